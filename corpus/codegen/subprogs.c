// SPDX-License-Identifier: GPL-2.0
/* A static noinline subprogram (verified inline with its caller's state) and a global
 * function (verified on its own from its BTF prototype: arguments are unknown scalars,
 * so it must clamp them itself).
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

static __noinline int scale(int x)
{
	return x * 3 + 1;
}

__noinline int clamp_add(int a, int b)
{
	if (a < 0 || a > 1000)
		a = 0;
	if (b < 0 || b > 1000)
		b = 0;
	return a + b;
}

SEC("socket")
__success __retval(33)
int call_static_and_global(void *ctx)
{
	int v = scale(5);		/* 16 */

	return clamp_add(v, 17);	/* 33 */
}

SEC("socket")
__success __retval(5)
int call_global_clamped(void *ctx)
{
	return clamp_add(-7, 5);
}

char _license[] SEC("license") = "GPL";
