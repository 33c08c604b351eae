// SPDX-License-Identifier: GPL-2.0
/* A BTF-defined PERCPU_HASH: insert a key, look it up again, and return what this CPU's
 * copy holds.  A missing key (lookup before update) must read as NULL.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} pcpu_hash SEC(".maps");

SEC("raw_tp/sys_enter")
__success __retval(45)
int percpu_hash_update(void *ctx)
{
	__u32 key = 9;
	__u64 init = 40, *v;

	if (bpf_map_lookup_elem(&pcpu_hash, &key))
		return 1;		/* fresh map: key 9 is not there yet */
	if (bpf_map_update_elem(&pcpu_hash, &key, &init, BPF_ANY))
		return 2;
	v = bpf_map_lookup_elem(&pcpu_hash, &key);
	if (!v)
		return 3;
	*v += 5;
	v = bpf_map_lookup_elem(&pcpu_hash, &key);
	if (!v)
		return 4;
	return *v;
}

char _license[] SEC("license") = "GPL";
