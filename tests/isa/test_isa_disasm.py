"""The disassembler prints the kernel verifier-log syntax (kernel/bpf/disasm.c)."""

import pytest

from harness.isa import Insn, assemble, disasm, disasm_insn

HELPERS = {1: "bpf_map_lookup_elem", 2: "bpf_map_update_elem"}

CASES = [
    # (instruction slots, expected text)
    ([Insn(0x07, 1, 0, 0, 8)], "(07) r1 += 8"),
    ([Insn(0x04, 1, 0, 0, -1)], "(04) w1 += -1"),
    ([Insn(0x0f, 1, 2)], "(0f) r1 += r2"),
    ([Insn(0xbf, 1, 1, -1)], "(bf) r1 = &(void __percpu *)(r1)"),
    ([Insn(0xbf, 1, 2, 8)], "(bf) r1 = (s8)r2"),
    ([Insn(0xbc, 1, 2, 16)], "(bc) w1 = (s16)w2"),
    ([Insn(0x3f, 1, 2, 1)], "(3f) r1 s/= r2"),
    ([Insn(0x97, 1, 0, 1, 3)], "(97) r1 s%= 3"),
    ([Insn(0x87, 3)], "(87) r3 = -r3"),
    ([Insn(0x84, 3)], "(84) w3 = -w3"),
    ([Insn(0xd7, 1, 0, 0, 16)], "(d7) r1 = bswap16 r1"),
    ([Insn(0xdc, 1, 0, 0, 32)], "(dc) r1 = be32 r1"),
    ([Insn(0xd4, 1, 0, 0, 64)], "(d4) r1 = le64 r1"),
    ([Insn(0xb7, 0, 0, 0, 0)], "(b7) r0 = 0"),
    ([Insn(0xc7, 2, 0, 0, 3)], "(c7) r2 s>>= 3"),
    ([Insn(0x18, 1, 0, 0, 0x5678), Insn(0, 0, 0, 0, 0x1234)], "(18) r1 = 0x123400005678"),
    ([Insn(0x85, 0, 0, 0, 1)], "(85) call bpf_map_lookup_elem#1"),
    ([Insn(0x85, 0, 0, 0, 999)], "(85) call unknown#999"),
    ([Insn(0x85, 0, 1, 0, 5)], "(85) call pc+5"),
    ([Insn(0x61, 0, 1, 0)], "(61) r0 = *(u32 *)(r1 +0)"),
    ([Insn(0x91, 0, 1, 4)], "(91) r0 = *(s8 *)(r1 +4)"),
    ([Insn(0x7b, 10, 1, -8)], "(7b) *(u64 *)(r10 -8) = r1"),
    ([Insn(0x62, 10, 0, -4, 7)], "(62) *(u32 *)(r10 -4) = 7"),
    ([Insn(0xc3, 1, 2, 0, 0x00)], "(c3) lock *(u32 *)(r1 +0) += r2"),
    ([Insn(0xdb, 1, 2, 8, 0x51)], "(db) r2 = atomic64_fetch_and((u64 *)(r1 +8), r2)"),
    ([Insn(0xc3, 1, 2, 0, 0xe1)], "(c3) r2 = atomic_xchg((u32 *)(r1 +0), r2)"),
    ([Insn(0xdb, 1, 2, 0, 0xf1)], "(db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"),
    ([Insn(0x95)], "(95) exit"),
    ([Insn(0x05, 0, 0, 3)], "(05) goto pc+3"),
    ([Insn(0x05, 0, 0, -1)], "(05) goto pc-1"),
    ([Insn(0x06, 0, 0, 0, 70000)], "(06) gotol pc+70000"),
    ([Insn(0x15, 1, 0, 2, 0)], "(15) if r1 == 0x0 goto pc+2"),
    ([Insn(0x16, 1, 0, 2, -1)], "(16) if w1 == 0xffffffff goto pc+2"),
    ([Insn(0x6d, 1, 2, -4)], "(6d) if r1 s> r2 goto pc-4"),
    ([Insn(0xae, 1, 2, 1)], "(ae) if w1 < w2 goto pc+1"),
    ([Insn(0x8d, 3)], "(8d) callx r3"),
]


@pytest.mark.parametrize("insns,text", CASES, ids=[t for _, t in CASES])
def test_kernel_syntax(insns, text):
    assert disasm_insn(insns, 0, helper_name=HELPERS.get) == text


def test_program_listing_counts_slots():
    prog = assemble("lddw %r1, 0x10\nmov %r0, 0\nexit\n")
    assert disasm(prog) == ["0: (18) r1 = 0x10", "2: (b7) r0 = 0", "3: (95) exit"]


def test_kfunc_names_come_from_their_callback():
    call = [Insn(0x85, 0, 2, 0, 1234)]
    assert disasm_insn(call, 0, helper_name=HELPERS.get) == "(85) call unknown#1234"
    assert disasm_insn(call, 0, kfunc_name=lambda i: "bpf_obj_new_impl") == "(85) call bpf_obj_new_impl#1234"


def test_ld_imm64_callback_names_maps():
    prog = [Insn(0x18, 1, 1, 0, 3), Insn(0)]
    assert disasm_insn(prog, 0, imm_fmt=lambda i, v: f"map[id:{v}]") == "(18) r1 = map[id:3]"
