// SPDX-License-Identifier: GPL-2.0
/* Verifier negatives on map values, selftest style: an access one past the end of the
 * value, and a dereference of bpf_map_lookup_elem's result without the NULL check.  The
 * third program is the checked, in-bounds control.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

/* A hash map: lookups can always miss (an ARRAY lookup with a constant in-bounds key is
 * known non-NULL on recent kernels, so it would not show the missing check). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} hmap SEC(".maps");

SEC("socket")
__failure __msg("invalid access to map value, value_size=8 off=8 size=4")
int value_past_end(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&arr, &key);

	if (!v)
		return 0;
	return *(volatile __u32 *)((char *)v + 8);
}

SEC("socket")
__failure __msg("invalid mem access 'map_value_or_null'")
int value_no_null_check(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&hmap, &key);

	return *(volatile __u64 *)v;
}

SEC("socket")
__success __retval(0)
int value_checked(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&arr, &key);

	if (!v)
		return 1;
	return *v;
}

char _license[] SEC("license") = "GPL";
