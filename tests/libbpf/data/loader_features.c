// SPDX-License-Identifier: GPL-2.0
/* Loader features in one object: BTF-defined maps (types, sizes, flags, pinning,
 * map-in-map with a static inner slot, a statically initialised PROG_ARRAY), several
 * programs in one section, .text subprograms (static and global), a bpf_loop callback,
 * custom .data.* / .rodata sections and .kconfig externs.
 */
#include <bpf/bpf_helpers.h>

struct inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} inner_a SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct inner);
} outer SEC(".maps") = {
	.values = { [2] = &inner_a },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__uint(map_flags, 1);
	__uint(pinning, 1);
	__type(key, __u64);
	__type(value, struct { int a; char b[12]; });
} hmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u32);
} pcpu SEC(".maps");

int tail_target(struct __sk_buff *skb);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 2);
	__uint(key_size, sizeof(__u32));
	__array(values, int (void *));
} jmp_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

extern int CONFIG_HZ __kconfig;
extern _Bool CONFIG_BPF_SYSCALL __kconfig;
extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern int CONFIG_MISSING __kconfig __weak;

int custom_val SEC(".data.custom") = 7;
const volatile int ro_val = 3;
__u64 kcfg_seen[4];

static __noinline int add_one(int x)
{
	return x + 1;
}

__noinline int global_twice(int x)
{
	return add_one(x) * 2;
}

static int loop_cb(__u32 idx, void *ctx)
{
	*(int *)ctx += idx;
	return 0;
}

SEC("tc")
int tail_target(struct __sk_buff *skb)
{
	return 42;
}

SEC("tc")
int calls(struct __sk_buff *skb)
{
	int sum = 0;

	bpf_loop(4, loop_cb, &sum, 0);           /* 0+1+2+3 */
	return global_twice(sum) + custom_val + ro_val;   /* (6+1)*2 + 7 + 3 = 24 */
}

SEC("tc")
int kconfig(struct __sk_buff *skb)
{
	kcfg_seen[0] = CONFIG_HZ;
	kcfg_seen[1] = CONFIG_BPF_SYSCALL;
	kcfg_seen[2] = LINUX_KERNEL_VERSION;
	kcfg_seen[3] = CONFIG_MISSING;
	return 0;
}

char _license[] SEC("license") = "GPL";
