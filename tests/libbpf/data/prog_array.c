// SPDX-License-Identifier: GPL-2.0
/* A statically initialised PROG_ARRAY and a .data counter: the light skeleton's loader
 * must create both maps, load both programs and fill slot 1 after the loads. */
#include <bpf/bpf_helpers.h>
int tail_target(struct __sk_buff *skb);
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jmp_table SEC(".maps") = { .values = { [1] = (void *)&tail_target }, };
int counter = 5;
SEC("tc") int tail_target(struct __sk_buff *skb) { return 42; }
SEC("tc") int entry(struct __sk_buff *skb) { counter++; bpf_tail_call(skb, &jmp_table, 1); return counter; }
char _license[] SEC("license") = "GPL";
