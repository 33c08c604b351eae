// SPDX-License-Identifier: GPL-2.0
/* .percpu with objects of several sizes laid out without padding holes (8, 8, 4, 4, 2, 2)
 * plus a .percpu.custom section, so LLVM 16/17 (issue 129437) still compile it.  The
 * program reads initial values and writes this CPU's copies.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

__u64 big SEC(".percpu") = 1000;
__u64 big2 SEC(".percpu") = 200;
__u32 mid SEC(".percpu") = 30;
__u32 mid2 SEC(".percpu") = 4;
__u16 small SEC(".percpu") = 5;
__u16 small2 SEC(".percpu") = 6;
__u64 custom_total SEC(".percpu.custom") = 0;
__u32 custom_seen[2] SEC(".percpu.custom") = { 0, 0 };

SEC("tc")
__success __retval(1245)
int percpu_sizes_sum(struct __sk_buff *skb)
{
	__u64 s = big + big2 + mid + mid2 + small + small2;

	custom_total = s;
	custom_seen[1] = bpf_get_smp_processor_id() + 1;
	small++;
	return s;
}

char _license[] SEC("license") = "GPL";
