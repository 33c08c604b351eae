// SPDX-License-Identifier: GPL-2.0
/* A bounded loop (64 iterations) over a stack array: Clang may unroll it, keep it as a
 * loop (verified by the kernel's bounded-loop support), or vectorise-then-scalarise; the
 * result must be the same under every version.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

SEC("socket")
__success __retval(2016)
int loop64_sum(void *ctx)
{
	volatile __u32 step = 1;
	__u32 i, sum = 0;

	for (i = 0; i < 64; i++)
		sum += i * step;
	return sum;
}

SEC("socket")
__success __retval(19)
int loop_early_exit(void *ctx)
{
	__u32 vals[8] = { 3, 1, 4, 1, 5, 9, 2, 6 };
	__u32 i, sum = 0;

	for (i = 0; i < 8; i++) {
		if (vals[i] == 9) {
			sum += 100 * (i != 5);
			break;
		}
		sum += vals[i] + 1;
	}
	return sum;
}

char _license[] SEC("license") = "GPL";
