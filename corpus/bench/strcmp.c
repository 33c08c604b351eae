/* Fills 64 strings of up to 31 characters and compares every pair (strcmp sign).
 * bench: mem=2048 r0=2016 */
#include <bpf/bpf_helpers.h>

#define NSTR 64
#define LEN 32

static __always_inline int cmp(const unsigned char *a, const unsigned char *b)
{
	for (int i = 0; i < LEN; i++) {
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
		if (!a[i])
			return 0;
	}
	return 0;
}

SEC("socket")
int strcmp_all(unsigned char *mem)
{
	int less = 0;

	for (int s = 0; s < NSTR; s++) {
		int n = 8 + (s * 7) % 23;
		for (int i = 0; i < n; i++)
			mem[s * LEN + i] = 'a' + ((s * 13 + i * (s & 3)) % 26);
		mem[s * LEN + n] = 0;
	}
	for (int a = 0; a < NSTR; a++)
		for (int b = 0; b < NSTR; b++)
			if (cmp(mem + a * LEN, mem + b * LEN) < 0)
				less++;
	return less;
}

char _license[] SEC("license") = "GPL";
