// SPDX-License-Identifier: GPL-2.0
/* A dense switch, the classic jump-table candidate: older LLVM lowers it to a compare
 * tree (BPF had no indirect jump), newer ones may use a lookup table in .rodata; both
 * must give the same answers.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

static __noinline int classify(__u32 x)
{
	switch (x) {
	case 0: return 11;
	case 1: return 23;
	case 2: return 37;
	case 3: return 41;
	case 4: return 59;
	case 5: return 61;
	case 6: return 73;
	case 7: return 89;
	case 8: return 97;
	default: return 1;
	}
}

SEC("socket")
__success __retval(492)
int switch_sum(void *ctx)
{
	__u32 i, sum = 0;

	for (i = 0; i < 10; i++)
		sum += classify(i);
	return sum;
}

char _license[] SEC("license") = "GPL";
