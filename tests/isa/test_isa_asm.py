"""Assembler for the conformance syntax: encodings, round trips, clean errors."""

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.isa import AsmError, Insn, assemble, decode, encode, format_asm
from harness.isa.conformance import load_case

SUITE = Path("/work/shared/conformance/bpf_conformance")
TESTS = sorted((SUITE / "tests").glob("*.data"))
NEGATIVE = sorted((SUITE / "negative").glob("*.data"))

ENCODINGS = [
    ("add32 %r0, 1", [Insn(0x04, 0, 0, 0, 1)]),
    ("add %r1, %r2", [Insn(0x0f, 1, 2)]),
    ("sdiv32 %r1, -3", [Insn(0x34, 1, 0, 1, -3)]),
    ("smod %r1, %r2", [Insn(0x9f, 1, 2, 1)]),
    ("neg %r3", [Insn(0x87, 3)]),
    ("be16 %r0", [Insn(0xdc, 0, 0, 0, 16)]),
    ("le64 %r0", [Insn(0xd4, 0, 0, 0, 64)]),
    ("bswap32 %r0", [Insn(0xd7, 0, 0, 0, 32)]),
    ("swap64 %r0", [Insn(0xd7, 0, 0, 0, 64)]),
    ("movsx832 %r0, %r1", [Insn(0xbc, 0, 1, 8)]),
    ("movsx3264 %r0, %r1", [Insn(0xbf, 0, 1, 32)]),
    ("lddw %r0, 0x1122334455667788", [Insn(0x18, 0, 0, 0, 0x55667788), Insn(0, 0, 0, 0, 0x11223344)]),
    ("ldxdw %r0, [%r1]", [Insn(0x79, 0, 1, 0)]),
    ("ldxsh %r0, [%r1+2]", [Insn(0x89, 0, 1, 2)]),
    ("stw [%r10-4], 0xffffffff", [Insn(0x62, 10, 0, -4, -1)]),
    ("stxb [%r1+0x10], %r2", [Insn(0x73, 1, 2, 16)]),
    ("lock add [%r10-8], %r1", [Insn(0xdb, 10, 1, -8, 0x00)]),
    ("lock fetch xor32 [%r1], %r2", [Insn(0xc3, 1, 2, 0, 0xa1)]),
    ("lock xchg [%r1], %r2", [Insn(0xdb, 1, 2, 0, 0xe1)]),
    ("lock cmpxchg32 [%r1], %r2", [Insn(0xc3, 1, 2, 0, 0xf1)]),
    ("jeq %r1, 5, +2", [Insn(0x15, 1, 0, 2, 5)]),
    ("jsle32 %r1, %r2, -1", [Insn(0xde, 1, 2, -1)]),
    ("ja +3", [Insn(0x05, 0, 0, 3)]),
    ("ja32 -2", [Insn(0x06, 0, 0, 0, -2)]),
    ("call 5", [Insn(0x85, 0, 0, 0, 5)]),
    ("call %r2", [Insn(0x8d, 2)]),
    ("exit", [Insn(0x95)]),
]


@pytest.mark.parametrize("text,insns", ENCODINGS, ids=[t for t, _ in ENCODINGS])
def test_encoding(text, insns):
    assert assemble(text) == insns
    assert assemble(format_asm(insns)) == insns


def test_labels_and_implicit_exit_label():
    prog = assemble("ja L\nL:\njeq %r0, 0, exit\nexit\ncall local f\nf:\nexit\n")
    assert prog[0].off == 0 and prog[1].off == 0
    assert prog[3].src == 1 and prog[3].imm == 0


ERRORS = [
    ("mov32 %r0, 2147483648", "out of range"),
    ("mov32 %r0, 0x100000000", "out of range"),
    ("ja NOWHERE", "invalid label"),
    ("lock", "invalid number of operands for lock"),
    ("ldxq %r0, %r1", "invalid mnemonic"),
    ("ldxb %r0, %r1", "memory operand"),
    ("ldxb %r0, [%r1+0x10000]", "out of range"),
    ("lddw %r0", "takes 2 operand"),
    ("or %r0, %r11", "invalid register"),
    ("L:\nL:\nexit", "duplicate label"),
    ("", "no instructions"),
]


@pytest.mark.parametrize("text,msg", ERRORS, ids=[m for _, m in ERRORS])
def test_errors_name_the_line(text, msg):
    with pytest.raises(AsmError) as exc:
        assemble("\n" + text, path="x.asm")
    assert msg in str(exc.value)
    assert str(exc.value).startswith("x.asm: line ")


@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_suite_round_trips(path):
    case = load_case(path)
    assert decode(encode(case.insns)) == case.insns
    assert assemble(format_asm(case.insns)) == case.insns


def test_raw_section_matches_asm():
    case = load_case(SUITE / "tests" / "lddw.data")
    assert case.from_raw
    assert case.insns == assemble("lddw %r0, 0x1122334455667788\nexit")


# Files the reader itself must reject (the others are rejected by the VM run: see
# tests/vm/test_vm_conformance.py).
STATIC_NEGATIVE = [p for p in NEGATIVE if p.stem not in
                   ("error", "incorrect_return_value_high_bits")]


@pytest.mark.parametrize("path", STATIC_NEGATIVE, ids=[p.stem for p in STATIC_NEGATIVE])
def test_negative_files_rejected_by_reader(path):
    with pytest.raises(HarnessError) as exc:
        load_case(path)
    assert str(path) in str(exc.value)


@pytest.mark.parametrize("insns,msg", [
    ([Insn(0x18, 1, 1, 0, 3), Insn(0)], "insn 0 (code 0x18) has no conformance-syntax form"),
    ([Insn(0xbf, 1, 1, -1)], "cannot print insn 0: BPF_MOV uses reserved fields"),
])
def test_printer_rejects_inexpressible(insns, msg):
    with pytest.raises(AsmError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        format_asm(insns)
