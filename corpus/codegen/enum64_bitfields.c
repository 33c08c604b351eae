// SPDX-License-Identifier: GPL-2.0
/* A 64-bit enum (BTF_KIND_ENUM64 from Clang 15 on, a plain ENUM before) and bitfield
 * reads/writes in a map value: shifts and masks differ between versions, values must not.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

enum big_consts {
	BIG_ONE = 1,
	BIG_HIGH = 0x100000000ULL,
	BIG_TOP = 0x8000000000000000ULL,
};

struct packed_flags {
	__u32 kind : 3;
	__u32 level : 5;
	__u32 count : 12;
	__u32 spare : 12;
	__u64 wide : 40;
	__u64 tail : 24;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct packed_flags);
} flags_map SEC(".maps");

volatile enum big_consts chosen = BIG_HIGH;

SEC("socket")
__success __retval(1)
int enum64_high(void *ctx)
{
	return (chosen >> 32) == 1 && BIG_TOP > BIG_HIGH;
}

SEC("socket")
__success __retval(1116)
int bitfield_rw(void *ctx)
{
	__u32 key = 0;
	struct packed_flags *f = bpf_map_lookup_elem(&flags_map, &key);

	if (!f)
		return -1;
	f->kind = 5;
	f->level = 31;
	f->count = 1000;
	f->wide = 0xffffffffffULL;
	f->tail = 80;
	f->count += 1;	/* read-modify-write of a middle field */
	return f->kind + f->level + f->count + f->tail - (f->wide == 0xffffffffffULL ? 1 : 0);
}

char _license[] SEC("license") = "GPL";
