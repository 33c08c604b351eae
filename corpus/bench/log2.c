/* Integer log2 by a shift loop over many values (tight loops, data-dependent trip counts).
 * bench: mem=8 r0=279103 */
#include <bpf/bpf_helpers.h>

#define N 6000

static __always_inline int ilog2(__u64 v)
{
	int r = 0;

	while (v >>= 1)
		r++;
	return r;
}

SEC("socket")
int log2_loop(unsigned char *mem)
{
	__u64 v = 0x9e3779b97f4a7c15ULL, total = 0;

	for (int i = 0; i < N; i++) {
		v = v * 6364136223846793005ULL + 1442695040888963407ULL;
		total += ilog2(v >> (i & 31));
	}
	*(__u64 *)mem = total;
	return (int)total;
}

char _license[] SEC("license") = "GPL";
