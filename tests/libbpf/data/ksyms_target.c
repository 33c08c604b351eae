// SPDX-License-Identifier: GPL-2.0
/* Plays the kernel for ksyms.c: a BTF VAR named kernel_counter. */
int kernel_counter;
char _license[] __attribute__((section("license"), used)) = "GPL";
