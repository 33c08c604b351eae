// SPDX-License-Identifier: GPL-2.0
/* __builtin_memcpy / __builtin_memset expand inline (BPF has no libc), and a string
 * literal reached through a pointer lands in .rodata.str1.1, a mergeable-strings section
 * libbpf maps like .rodata.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

struct rec {
	__u64 a;
	__u32 b;
	__u16 c;
	__u8 d[10];
};

SEC("socket")
__success __retval(51)
int memcpy_memset(void *ctx)
{
	struct rec src, dst;

	__builtin_memset(&src, 0, sizeof(src));
	src.a = 40;
	src.b = 7;
	src.c = 3;
	src.d[9] = 1;
	__builtin_memcpy(&dst, &src, sizeof(dst));
	__builtin_memset(dst.d, 0, 4);
	return dst.a + dst.b + dst.c + dst.d[9] + dst.d[0];
}

SEC("socket")
__success __retval(119)
int rodata_str_literal(void *ctx)
{
	const char *msg = "hello world";

	barrier_var(msg);
	return msg[6];
}

char _license[] SEC("license") = "GPL";
