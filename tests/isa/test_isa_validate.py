"""Reserved-field and opcode checks (RFC 9669 §3, kernel wording)."""

import pytest

from harness.isa import Insn, InsnValidationError, check_insn, validate
from harness.isa import opcodes as o

BAD = [
    (Insn(0x07, 0, 1, 0, 1), "BPF_ALU uses reserved fields"),
    (Insn(0x0f, 0, 1, 0, 1), "BPF_ALU uses reserved fields"),
    (Insn(0x1f, 0, 1, 1), "BPF_ALU uses reserved fields"),      # off 1 only for div/mod
    (Insn(0x87, 0, 0, 0, 1), "BPF_NEG uses reserved fields"),
    (Insn(0x8f, 0, 1), "BPF_NEG uses reserved fields"),
    (Insn(0xd4, 0, 0, 0, 8), "BPF_END uses reserved fields"),
    (Insn(0xdf, 0, 0, 0, 16), "BPF_END uses reserved fields"),   # bswap has no X form
    (Insn(0xbc, 0, 1, 32), "BPF_MOV uses reserved fields"),     # movsx32 only in ALU64
    (Insn(0xbf, 0, 1, -1), "BPF_MOV uses reserved fields"),     # percpu mov is internal
    (Insn(0xb7, 0, 1, 0, 1), "BPF_MOV uses reserved fields"),
    (Insn(0x05, 1, 0, 1), "BPF_JA uses reserved fields"),
    (Insn(0x06, 0, 0, 1, 1), "BPF_JA uses reserved fields"),
    (Insn(0x15, 0, 1, 1, 0), "BPF_JMP/JMP32 uses reserved fields"),
    (Insn(0x1d, 0, 1, 1, 1), "BPF_JMP/JMP32 uses reserved fields"),
    (Insn(0x85, 1, 0, 0, 1), "BPF_CALL uses reserved fields"),
    (Insn(0x8d, 1), "BPF_CALL uses reserved fields"),           # callx off unless enabled
    (Insn(0x95, 0, 0, 1), "BPF_EXIT uses reserved fields"),
    (Insn(0x96), "BPF_EXIT uses reserved fields"),
    (Insn(0x79, 0, 1, 0, 1), "BPF_LDX uses reserved fields"),
    (Insn(0x62, 1, 1), "BPF_ST uses reserved fields"),
    (Insn(0x7b, 1, 1, 0, 1), "BPF_STX uses reserved fields"),
    (Insn(0xdb, 1, 1, 0, 0x02), "BPF_ATOMIC uses invalid atomic opcode 02"),
    (Insn(0xd3, 1, 1, 0, 0x00), "invalid atomic operand size"),
    (Insn(0xf7, 1), "invalid BPF_ALU opcode f0"),
    (Insn(0xe5, 0, 0, 0, 1), "invalid may_goto imm 1"),
    (Insn(0xf5, 0, 0, 0), "invalid BPF_JMP/JMP32 opcode f0"),
    (Insn(0x00), "invalid BPF_LD_IMM insn"),
    (Insn(0xb7, 11, 0, 0, 0), "R11 is invalid"),
]


@pytest.mark.parametrize("insn,msg", BAD, ids=[f"{i.code:02x}-{m}" for i, m in BAD])
def test_rejected(insn, msg):
    assert check_insn([insn, Insn(0x95)], 0) == msg
    with pytest.raises(InsnValidationError) as exc:
        validate([insn, Insn(0x95)])
    assert exc.value.index == 0 and msg in str(exc.value)


GOOD = [Insn(0x3f, 1, 2, 1), Insn(0xbf, 1, 2, 32), Insn(0xbc, 1, 2, 8), Insn(0xd7, 1, 0, 0, 64),
        Insn(0xdc, 1, 0, 0, 16), Insn(0x06, 0, 0, 0, 5), Insn(0x85, 0, 1, 0, 3),
        Insn(0xc3, 1, 2, 0, 0xf1), Insn(0x91, 0, 1, 0), Insn(0x95)]


@pytest.mark.parametrize("insn", GOOD, ids=[f"{i.code:02x}" for i in GOOD])
def test_accepted(insn):
    assert check_insn([insn], 0) is None


def test_options():
    assert check_insn([Insn(0x8d, 2)], 0, callx=True) is None
    assert check_insn([Insn(0xbf, 1, 1, -1)], 0, internal=True) is None


def test_ld_imm64_pairing():
    assert check_insn([Insn(0x18, 1)], 0) == "invalid bpf_ld_imm64 insn"
    assert check_insn([Insn(0x18, 1), Insn(0, 1)], 0) == "invalid bpf_ld_imm64 insn"
    assert check_insn([Insn(0x18, 1), Insn(0, 0, 0, 0, 7)], 0) is None
    validate([Insn(0x18, 1), Insn(0, 0, 0, 0, 7), Insn(0x95)])


PREDICATES = [
    (o.is_jump, Insn(0x05), True), (o.is_jump, Insn(0x85), False), (o.is_jump, Insn(0x1e), True),
    (o.is_call, Insn(0x8d, 1), True), (o.is_exit, Insn(0x95), True), (o.is_exit, Insn(0x96), False),
    (o.is_ld_imm64, Insn(0x18), True), (o.is_atomic, Insn(0xdb), True),
    (o.is_movsx, Insn(0xbf, 0, 1, 8), True), (o.is_movsx, Insn(0xbf, 0, 1, 0), False),
    (o.is_mov_percpu, Insn(0xbf, 1, 1, -1), True), (o.is_sdiv_smod, Insn(0x9c, 0, 1, 1), True),
    (o.is_pseudo_call, Insn(0x85, 0, 1), True), (o.is_helper_call, Insn(0x85, 0, 1), False),
]


@pytest.mark.parametrize("pred,insn,want", PREDICATES,
                         ids=[f"{p.__name__}-{i.code:02x}" for p, i, _ in PREDICATES])
def test_predicates(pred, insn, want):
    assert pred(insn) is want


def test_jump_offset_of_gotol_is_imm():
    assert o.jump_offset(Insn(0x06, 0, 0, 0, 9)) == 9 and o.jump_offset(Insn(0x05, 0, 0, 4)) == 4
