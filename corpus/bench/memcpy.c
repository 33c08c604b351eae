/* Copies a 2 KiB block back and forth in 8-byte words and single bytes, mixing in the
 * round number so the compiler cannot turn it into a library memcpy.
 * bench: mem=4096 r0=5648 */
#include <bpf/bpf_helpers.h>

#define WORDS 256
#define ROUNDS 16

SEC("socket")
int copy(unsigned char *mem)
{
	__u64 *src = (__u64 *)mem, *dst = (__u64 *)(mem + WORDS * 8);
	__u64 sum = 0;

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < WORDS; i++)
			dst[i] = src[i] + r;
		for (int i = 0; i < WORDS; i += 16)
			mem[i] = mem[WORDS * 8 + i] ^ (unsigned char)i;
	}
	for (int i = 0; i < WORDS; i++)
		sum += dst[i] & 0xff;
	return sum;
}

char _license[] SEC("license") = "GPL";
