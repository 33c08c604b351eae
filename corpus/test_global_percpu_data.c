// SPDX-License-Identifier: GPL-2.0
/* The BPF side of upstream's global_data_init percpu scenarios (upstream-spec §6.1),
 * written for this harness: the same sections, variables, programs and layout intent
 * (cpu_id[] last in .percpu so the value can be resized; a 1-byte bool followed by a
 * hole, which crashes LLVM 16 and 17, spec §7).  tests/libbpf/test_global_percpu_scenarios.py
 * drives it the way prog_tests/global_data_init.c does.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

struct bpf_iter_meta {
	void *seq;
	__u64 session_id;
	__u64 seq_num;
};

struct bpf_iter__bpf_map_elem {
	struct bpf_iter_meta *meta;
	void *map;
	void *key;
	void *value;
};

int data SEC(".percpu") = -1;
int run = 0;
struct {
	char set;
	int i;
	int nums[7];
} struct_data SEC(".percpu") = {
	.set = 0,
	.i = -1,
};
int nums[7] SEC(".percpu");
_Bool set SEC(".percpu") = 0;
int cpu_id[1] SEC(".percpu");

int loong SEC(".percpu.looooooooong") = 0;
int data2 SEC(".percpu.data") = 0;
int data3 SEC(".data.percpu") = 0;

static const char fmt[] SEC(".percpu.fmt") = "data %d\n";

volatile const __u32 num_cpus = 0;
volatile const int offsetof_num = 0;
volatile const int elem_sz = 0;
__u32 percpu_data_sum = 0;
_Bool run_iter = 0;

SEC("raw_tp/task_rename")
__auxiliary
int update_percpu_data(void *ctx)
{
	struct_data.nums[6] = 0xc0de;
	struct_data.set = 1;
	struct_data.i = 1;
	nums[6] = 0xc0de;
	data = 1;
	run++;
	set = 1;
	cpu_id[0] = bpf_get_smp_processor_id();
	return 0;
}

SEC("?kprobe")
__failure __msg("R{{[0-9]+}} points to percpu_array map which cannot be used as const string")
int verifier_strncmp(void *ctx)
{
	return bpf_strncmp("test", 5, fmt);
}

SEC("iter/bpf_map_elem")
__auxiliary
int dump_percpu_data(struct bpf_iter__bpf_map_elem *ctx)
{
	void *pptr = ctx->value;
	__u32 i;

	if (!pptr)
		return 0;
	run_iter = 1;
	for (i = 0; i < num_cpus && i < 64; i++) {
		percpu_data_sum += *(int *)(pptr + offsetof_num);
		pptr += elem_sz;
	}
	return 0;
}

char _license[] SEC("license") = "GPL";
