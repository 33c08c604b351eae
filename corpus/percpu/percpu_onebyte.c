// SPDX-License-Identifier: GPL-2.0
/* Global per-CPU data with a one-byte variable in .percpu (the shape of upstream's
 * test_global_percpu_data.c and of llvm/llvm-project#129437).
 *
 * The 1-byte `set` is followed by 4-byte-aligned objects, so the section has a 3-byte
 * padding hole.  LLVM 16 and 17 fill that hole through the BPF backend's NOP writer,
 * which can only emit multiples of 8 bytes: "fatal error: error in backend: unable to
 * write nop sequence of 3 bytes".  Every other major compiles it (corpus/expectations.toml).
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

int data SEC(".percpu") = -1;
bool set SEC(".percpu") = false;
int nums[7] SEC(".percpu");

struct {
	char set;
	int i;
	int nums[7];
} struct_data SEC(".percpu") = {
	.set = 0,
	.i = -1,
};

int run = 0;

SEC("raw_tp/task_rename")
__success __retval(0)
int update_percpu_data(void *ctx)
{
	struct_data.nums[6] = 0xc0de;
	struct_data.set = 1;
	struct_data.i = 1;
	nums[6] = 0xc0de;
	data = 1;
	set = true;
	run++;
	return 0;
}

char _license[] SEC("license") = "GPL";
