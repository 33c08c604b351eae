/* A tiny byte-code interpreter: a switch over opcodes in a loop (branch-heavy code).
 * bench: mem=256 r0=3654681228 */
#include <bpf/bpf_helpers.h>

#define STEPS 20000

SEC("socket")
int interp(unsigned char *mem)
{
	__u64 acc = 1, x = 7;
	unsigned int pc = 0;

	for (int i = 0; i < 64; i++)
		mem[i] = (i * 5 + 3) % 8;
	for (int step = 0; step < STEPS; step++) {
		switch (mem[(pc + (step >> 2)) & 63]) {
		case 0: acc += x + step; break;
		case 1: acc ^= acc >> 3; break;
		case 2: x = x * 3 + 1; break;
		case 3: acc -= x; break;
		case 4: x = (x >> 1) ^ (acc << 5); break;
		case 5: acc = (acc << 1) | (acc >> 63); break;
		case 6: pc += acc & 7; break;
		default: x ^= acc; break;
		}
		pc++;
	}
	return (int)(acc ^ (acc >> 29) ^ (x << 7));
}

char _license[] SEC("license") = "GPL";
