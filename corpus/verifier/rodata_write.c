// SPDX-License-Identifier: GPL-2.0
/* Writing through a pointer into .rodata: libbpf freezes the map and marks it
 * BPF_F_RDONLY_PROG, so the verifier refuses the store.  The asm hides the constness
 * from Clang (otherwise it would reject or drop the store itself).
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

const volatile int ro_val = 3;

SEC("socket")
__failure __msg("write into map forbidden")
int rodata_store(void *ctx)
{
	int *p = (int *)&ro_val;

	barrier_var(p);
	*p = 4;
	return 0;
}

SEC("socket")
__success __retval(3)
int rodata_load(void *ctx)
{
	return ro_val;
}

char _license[] SEC("license") = "GPL";
