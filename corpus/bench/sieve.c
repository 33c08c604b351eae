/* Sieve of Eratosthenes over the input buffer; returns the number of primes below N.
 * bench: mem=4096 r0=564 */
#include <bpf/bpf_helpers.h>

#define N 4096

SEC("socket")
int sieve(unsigned char *mem)
{
	int count = 0;

	for (int i = 2; i < N; i++) {
		if (mem[i])
			continue;
		count++;
		for (int j = i * i; j < N; j += i)
			mem[j] = 1;
	}
	return count;
}

char _license[] SEC("license") = "GPL";
