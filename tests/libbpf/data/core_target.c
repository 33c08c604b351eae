// SPDX-License-Identifier: GPL-2.0
/* The "kernel" side for core_local.c: struct task with another layout, no 'gone'. */
struct task {
	long long pad[3];
	long long start;
	short pid;
};

struct task tasks[1];
char _license[] __attribute__((section("license"), used)) = "GPL";
