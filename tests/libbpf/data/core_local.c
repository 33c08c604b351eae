// SPDX-License-Identifier: GPL-2.0
/* CO-RE: field offsets/sizes/existence and type existence against a target BTF
 * (core_target.c plays the kernel, with a different layout). */
#include <bpf/bpf_helpers.h>

struct task {
	int pid;
	long long start;
	int gone;
} __attribute__((preserve_access_index));

struct absent_type {
	int x;
} __attribute__((preserve_access_index));

__u64 out[7];

SEC("socket")
int core(void *ctx)
{
	struct task *t = 0;

	out[0] = __builtin_preserve_field_info(t->start, 0);   /* byte offset */
	out[1] = __builtin_preserve_field_info(t->pid, 1);     /* byte size */
	out[2] = __builtin_preserve_field_info(t->gone, 2);    /* exists */
	out[3] = __builtin_preserve_type_info(*(struct absent_type *)0, 0);  /* type exists */
	out[4] = __builtin_preserve_type_info(*(struct task *)0, 1);         /* type size */
	out[5] = __builtin_btf_type_id(*(struct task *)0, 0);                /* local type id */
	out[6] = __builtin_btf_type_id(*(struct task *)0, 1);                /* target type id */
	return 0;
}

char _license[] SEC("license") = "GPL";

struct flags {
	unsigned int lo: 3;
	int mid: 7;
	unsigned int hi: 22;
} __attribute__((preserve_access_index));

__u64 bf_out[6];

SEC("socket")
int core_bitfields(void *ctx)
{
	struct flags *f = 0;

	bf_out[0] = __builtin_preserve_field_info(f->mid, 0);  /* byte offset */
	bf_out[1] = __builtin_preserve_field_info(f->mid, 1);  /* byte size */
	bf_out[2] = __builtin_preserve_field_info(f->mid, 3);  /* signed */
	bf_out[3] = __builtin_preserve_field_info(f->mid, 4);  /* lshift_u64 */
	bf_out[4] = __builtin_preserve_field_info(f->mid, 5);  /* rshift_u64 */
	bf_out[5] = __builtin_preserve_field_info(f->hi, 4);
	return 0;
}

struct task some_task;

SEC("?socket")
int core_load(void *ctx)
{
	struct task *t = &some_task;

	return t->pid;          /* a 4-byte load here; 2 bytes at offset 32 on the target */
}
