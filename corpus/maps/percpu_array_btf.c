// SPDX-License-Identifier: GPL-2.0
/* A BTF-defined PERCPU_ARRAY: each run bumps this CPU's slot.  The result depends only
 * on the values the program itself stores (not on which CPU it ran on), so the return
 * value is the same under every toolchain and every CPU count.  raw_tp, so a test can pick
 * the CPU (BPF_F_TEST_RUN_ON_CPU; tests/corpus/test_corpus_percpu_maps.py).
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

struct val {
	__u64 packets;
	__u32 cpu;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct val);
} pcpu_counts SEC(".maps");

SEC("raw_tp/sys_enter")
__success __retval(7)
int percpu_array_count(void *ctx)
{
	__u32 key = 2;
	struct val *v;

	v = bpf_map_lookup_elem(&pcpu_counts, &key);
	if (!v)
		return 1;
	v->packets = 6;
	v->cpu = bpf_get_smp_processor_id();
	v->packets += 1;
	return v->packets;
}

char _license[] SEC("license") = "GPL";
