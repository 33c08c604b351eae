// SPDX-License-Identifier: GPL-2.0
/* bpf_loop with a static callback: the callback is a separate subprogram referenced by a
 * BPF_PSEUDO_FUNC ld_imm64, and its context is a stack pointer.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

struct loop_ctx {
	__u64 sum;
	__u32 stop_at;
};

static int add_index(__u32 idx, void *data)
{
	struct loop_ctx *c = data;

	if (idx == c->stop_at)
		return 1;	/* stop */
	c->sum += idx;
	return 0;
}

SEC("socket")
__success __retval(45)
int bpf_loop_sum(void *ctx)
{
	struct loop_ctx c = { .sum = 0, .stop_at = 10 };
	long n;

	n = bpf_loop(20, add_index, &c, 0);
	if (n != 11)
		return -1;
	return c.sum;
}

char _license[] SEC("license") = "GPL";
