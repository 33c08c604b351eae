// SPDX-License-Identifier: GPL-2.0
/* A pre-BTF map definition in SEC("maps"): libbpf 1.x refuses to open this object. */
#include <bpf/bpf_helpers.h>

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") old_map = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 4,
	.max_entries = 1,
};

SEC("socket")
int prog(void *ctx)
{
	return bpf_map_lookup_elem(&old_map, &(int){0}) != 0;
}

char _license[] SEC("license") = "GPL";
