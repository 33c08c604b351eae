// SPDX-License-Identifier: GPL-2.0
/* Zero-initialised globals: .bss, an ARRAY map whose initial image is all zeros. */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

int zero;
__u64 total = 0;
struct {
	__u32 a;
	__u8 b;
	__u16 c;
} pair;

SEC("tc")
__success __retval(3)
int bss_count(struct __sk_buff *skb)
{
	total += 3;
	pair.b = 1;
	pair.c = 2;
	return zero + pair.b + pair.c;
}

char _license[] SEC("license") = "GPL";
