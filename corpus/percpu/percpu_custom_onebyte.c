// SPDX-License-Identifier: GPL-2.0
/* The LLVM 16/17 crash pattern (a 1-byte object followed by padding before a 4-byte
 * aligned object) in a custom .percpu.flags section rather than plain .percpu: the
 * compile crash is keyed on the shape, not on the section name.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

char flag SEC(".percpu.flags") = 1;
int level SEC(".percpu.flags") = 41;

SEC("tc")
__success __retval(42)
int percpu_custom_flag(struct __sk_buff *skb)
{
	return level + flag;
}

char _license[] SEC("license") = "GPL";
