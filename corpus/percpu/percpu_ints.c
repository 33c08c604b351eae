// SPDX-License-Identifier: GPL-2.0
/* Global per-CPU data without padding holes: only 4-byte objects in .percpu and a named
 * .percpu.<suffix> section.  Compiles with every major, including 16 and 17, so the
 * later stages (load, verify, run) see a .percpu map from every toolchain.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

int hits SEC(".percpu") = 0;
int cpu_id[1] SEC(".percpu") = { -1 };
int counters[4] SEC(".percpu.stats") = { 1, 2, 3, 4 };

SEC("tc")
__success __retval(10)
int percpu_sum(struct __sk_buff *skb)
{
	int i, sum = 0;

	hits++;
	cpu_id[0] = bpf_get_smp_processor_id();
	for (i = 0; i < 4; i++)
		sum += counters[i];
	return sum;
}

char _license[] SEC("license") = "GPL";
