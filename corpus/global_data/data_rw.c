// SPDX-License-Identifier: GPL-2.0
/* Initialised writable globals: .data becomes an internal ARRAY map. */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

int counter = 40;
long long wide = 0x100000000LL;
char tag[8] = "harness";

SEC("tc")
__success __retval(42)
int data_add(struct __sk_buff *skb)
{
	counter += 2;
	return counter;
}

SEC("tc")
__success __retval(1)
int data_wide(struct __sk_buff *skb)
{
	return (int)(wide >> 32) + tag[7];
}

char _license[] SEC("license") = "GPL";
