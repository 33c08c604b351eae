// SPDX-License-Identifier: GPL-2.0
/* Read-only globals: `const volatile` values in .rodata (a frozen ARRAY map the verifier
 * may treat as constants) and a string constant.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

const volatile int limit = 7;
const volatile __u32 factor = 6;
static const char greeting[] = "hello";

SEC("tc")
__success __retval(42)
int rodata_mul(struct __sk_buff *skb)
{
	return limit * factor;
}

SEC("tc")
__success __retval(104)
int rodata_str(struct __sk_buff *skb)
{
	return greeting[0];
}

char _license[] SEC("license") = "GPL";
