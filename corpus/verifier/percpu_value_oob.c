// SPDX-License-Identifier: GPL-2.0
/* Global per-CPU data is a PERCPU_ARRAY value: direct access past the end of the .percpu
 * section is refused like any map value access, with the section's size as value_size.
 * The in-bounds program is the control.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

int pc_a SEC(".percpu") = 5;
int pc_b SEC(".percpu") = 6;

SEC("raw_tp/sys_enter")
__failure __msg("invalid access to map value, value_size=8 off=8 size=4")
int percpu_past_end(void *ctx)
{
	int *p = &pc_b;

	barrier_var(p);
	return *(volatile int *)(p + 1);
}

SEC("raw_tp/sys_enter")
__success __retval(11)
int percpu_in_bounds(void *ctx)
{
	return pc_a + pc_b;
}

char _license[] SEC("license") = "GPL";
