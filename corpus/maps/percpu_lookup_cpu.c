// SPDX-License-Identifier: GPL-2.0
/* bpf_map_lookup_percpu_elem: this CPU's copy through the ordinary lookup and through the
 * per-CPU lookup with bpf_get_smp_processor_id() must be the same object's value; a CPU
 * number past nr_cpu_ids gives NULL.  The result does not depend on the CPU that runs it.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} pcpu_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} lru_pcpu SEC(".maps");

SEC("tc")
__success __retval(3)
int percpu_lookup_cpu(struct __sk_buff *skb)
{
	__u32 key = 1, cpu = bpf_get_smp_processor_id(), *mine, *again;
	int ok = 0;

	mine = bpf_map_lookup_elem(&pcpu_slots, &key);
	if (!mine)
		return -1;
	*mine = 77;
	again = bpf_map_lookup_percpu_elem(&pcpu_slots, &key, cpu);
	if (again && *again == 77)
		ok++;
	if (!bpf_map_lookup_percpu_elem(&pcpu_slots, &key, 0xffff))
		ok++;
	if (bpf_map_update_elem(&lru_pcpu, &key, &cpu, BPF_ANY) == 0) {
		again = bpf_map_lookup_percpu_elem(&lru_pcpu, &key, cpu);
		if (again && *again == cpu)
			ok++;
	}
	return ok;
}

char _license[] SEC("license") = "GPL";
