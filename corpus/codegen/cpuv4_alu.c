// SPDX-License-Identifier: GPL-2.0
// harness: mcpu=v4
/* cpu v4 instructions: signed division/modulo (BPF_SDIV/BPF_SMOD), sign-extending moves
 * and loads (MOVSX/MEMSX) and unconditional byte swaps (BSWAP).  -mcpu=v4 exists from
 * LLVM 18; older versions refuse the option.
 */
#include <bpf/bpf_helpers.h>
#include <bpf_misc.h>

SEC("socket")
__success __retval(1)
int sdiv_smod(void *ctx)
{
	volatile __s64 a = -17, b = 5;
	volatile __s32 c = -17, d = 5;

	return a / b == -3 && a % b == -2 && c / d == -3 && c % d == -2;
}

SEC("socket")
__success __retval(1)
int movsx_widen(void *ctx)
{
	volatile __u64 raw = 0x1ff80;
	__s8 b = (__s8)raw;
	__s16 h = (__s16)raw;
	__s64 w = (__s32)(raw << 15);

	return b == -128 && h == -128 && w == (__s64)(__s32)0xffc00000;
}

SEC("socket")
__success __retval(1)
int bswap_all(void *ctx)
{
	volatile __u64 x = 0x0102030405060708ULL;

	return __builtin_bswap16((__u16)x) == 0x0807 &&
	       __builtin_bswap32((__u32)x) == 0x08070605 &&
	       __builtin_bswap64(x) == 0x0807060504030201ULL;
}

char _license[] SEC("license") = "GPL";
