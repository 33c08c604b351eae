// SPDX-License-Identifier: GPL-2.0
/* Typed .ksyms externs: resolved to BTF ids of the target (kernel) BTF. */
#include <bpf/bpf_helpers.h>

extern const int kernel_counter __ksym;
extern const int maybe_absent __ksym __weak;

SEC("socket")
int read_ksyms(void *ctx)
{
	int v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &kernel_counter);
	if (&maybe_absent)
		v++;
	return v;
}

char _license[] SEC("license") = "GPL";
