// SPDX-License-Identifier: GPL-2.0
/* The "kernel" side for core_local.c: struct task with another layout, no 'gone'. */
struct task {
	long long pad[3];
	long long start;
	short pid;
};

struct task tasks[1];
char _license[] __attribute__((section("license"), used)) = "GPL";

/* flags moved: 'mid' now starts at bit 37 (inside the second 32-bit word). */
struct flags {
	unsigned long long pad: 37;
	int mid: 7;
	unsigned int hi: 20;
};

struct flags all_flags[1];
