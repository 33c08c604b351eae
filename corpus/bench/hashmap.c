/* Hash-map churn: update, lookup and delete keys of a BPF hash map in a loop.
 * bench: mem=0 r0=572 */
#include <bpf/bpf_helpers.h>

#define ROUNDS 2000

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} churn SEC(".maps");

SEC("raw_tp")
int hashmap(void *ctx)
{
	__u64 hits = 0;

	for (__u32 i = 0; i < ROUNDS; i++) {
		__u32 key = (i * 2654435761u) % 700;
		__u64 val = i, *p;

		p = bpf_map_lookup_elem(&churn, &key);
		if (p) {
			hits += *p & 1;
			*p += 1;
		} else {
			bpf_map_update_elem(&churn, &key, &val, BPF_ANY);
		}
		if ((i & 7) == 3) {
			key ^= 1;
			bpf_map_delete_elem(&churn, &key);
		}
	}
	return (int)hits;
}

char _license[] SEC("license") = "GPL";
