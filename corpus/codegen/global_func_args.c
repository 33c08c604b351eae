// SPDX-License-Identifier: GPL-2.0
/* Global functions are verified once, on their own, from their BTF prototype: a pointer
 * argument may be NULL whatever one caller passes, an integer argument is any scalar, and
 * a pointer to the program type's context struct is the context.  The caller only checks
 * that its arguments match the prototype (6.18 check_func_call / btf_check_subprog_call).
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

struct __sk_buff;

__noinline int read_first(int *p)
{
	return *p;			/* p may be NULL here */
}

__noinline int read_first_checked(int *p)
{
	return p ? *p : -1;
}

__noinline int wire_len(struct __sk_buff *skb)
{
	return *(volatile unsigned int *)skb;	/* skb->len: a context read */
}

SEC("socket")
__failure __msg("invalid mem access 'mem_or_null'")
int global_needs_null_check(void *ctx)
{
	int x = 5;

	return read_first(&x);
}

SEC("socket")
__success __retval(5)
int global_checked_pointer(void *ctx)
{
	int x = 5;

	return read_first_checked(&x);
}

SEC("socket")
__success __retval(1)
int global_ctx_argument(struct __sk_buff *skb)
{
	return wire_len(skb) > 0;
}

char _license[] SEC("license") = "GPL";
