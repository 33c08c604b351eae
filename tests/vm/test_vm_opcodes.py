"""Every instruction of RFC 9669 v1-v4, table-driven: (assembly, expected r0).

`test_every_opcode_is_covered` fails when an opcode of the instruction tables has no
case here, so the table cannot silently fall behind the ISA.
"""

import pytest

from harness.isa import Insn, assemble
from harness.isa import opcodes as o
from harness.kernel.vm import Memory, Vm

M64 = (1 << 64) - 1
M32 = 0xFFFFFFFF
BIG = "lddw %r0, 0x1122334455667788\n"

ALU = [
    # 64-bit
    ("mov %r0, 5\nadd %r0, -7", M64 - 1),
    ("mov %r0, 5\nmov %r1, -7\nadd %r0, %r1", M64 - 1),
    ("mov %r0, 3\nsub %r0, 5", M64 - 1),
    ("mov %r0, 3\nmov %r1, 5\nsub %r0, %r1", M64 - 1),
    ("lddw %r0, 0x100000000\nmul %r0, 0x10", 0x1000000000),
    ("lddw %r0, 0x8000000000000000\nmov %r1, 2\nmul %r0, %r1", 0),
    ("mov %r0, 100\ndiv %r0, 7", 14),
    ("mov %r0, 100\ndiv %r0, 0", 0),
    ("mov %r0, 100\nmov %r1, 0\ndiv %r0, %r1", 0),
    ("mov %r0, -1\nmov %r1, 2\ndiv %r0, %r1", M64 >> 1),
    ("mov %r0, -100\nsdiv %r0, 7", -14 & M64),
    ("mov %r0, -100\nmov %r1, -7\nsdiv %r0, %r1", 14),
    ("lddw %r0, 0x8000000000000000\nsdiv %r0, -1", 1 << 63),
    ("mov %r0, 100\nsdiv %r0, 0", 0),
    ("mov %r0, 100\nmod %r0, 7", 2),
    ("mov %r0, 100\nmov %r1, 0\nmod %r0, %r1", 100),
    ("mov %r0, 100\nmod %r0, 0", 100),
    ("mov %r0, -100\nsmod %r0, 7", -2 & M64),
    ("mov %r0, 100\nmov %r1, -7\nsmod %r0, %r1", 2),
    ("mov %r0, -100\nmov %r1, 0\nsmod %r0, %r1", -100 & M64),
    ("mov %r0, 0x10\nor %r0, 0x3", 0x13),
    ("mov %r0, 0x10\nmov %r1, -1\nor %r0, %r1", M64),
    ("mov %r0, -1\nand %r0, 0x7", 7),
    ("mov %r0, -1\nmov %r1, 6\nand %r0, %r1", 6),
    ("mov %r0, 5\nxor %r0, -1", ~5 & M64),
    ("mov %r0, 5\nmov %r1, 3\nxor %r0, %r1", 6),
    ("mov %r0, 1\nlsh %r0, 63", 1 << 63),
    ("mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1", 2),
    ("lddw %r0, 0x8000000000000000\nrsh %r0, 63", 1),
    ("lddw %r0, 0x8000000000000000\nmov %r1, 64\nrsh %r0, %r1", 1 << 63),
    ("lddw %r0, 0x8000000000000000\narsh %r0, 63", M64),
    ("lddw %r0, 0x8000000000000000\nmov %r1, 62\narsh %r0, %r1", M64 - 1),
    ("mov %r0, -1", M64),
    ("mov %r1, -2\nmov %r0, %r1", M64 - 1),
    ("mov %r0, 1\nneg %r0", M64),
    ("mov %r1, 0x80\nmovsx864 %r0, %r1", 0xFFFFFFFFFFFFFF80),
    ("mov %r1, 0x8001\nmovsx1664 %r0, %r1", 0xFFFFFFFFFFFF8001),
    ("lddw %r1, 0x180000000\nmovsx3264 %r0, %r1", 0xFFFFFFFF80000000),
    # 32-bit: operands truncated, result zero-extended
    ("lddw %r0, 0xffffffff00000005\nadd32 %r0, 1", 6),
    ("lddw %r0, 0xffffffff00000005\nmov %r1, -1\nadd32 %r0, %r1", 4),
    ("mov32 %r0, 0\nsub32 %r0, 1", M32),
    ("mov32 %r0, 0\nmov %r1, 1\nsub32 %r0, %r1", M32),
    ("mov32 %r0, 0x10000\nmul32 %r0, 0x10000", 0),
    ("mov32 %r0, 3\nmov %r1, -1\nmul32 %r0, %r1", M32 - 2),
    ("lddw %r0, 0x100000064\ndiv32 %r0, 7", 14),
    ("lddw %r0, 0x100000064\nlddw %r1, 0x100000000\ndiv32 %r0, %r1", 0),
    ("mov32 %r0, -100\nsdiv32 %r0, 7", 0xFFFFFFF2),
    ("mov32 %r0, -100\nmov %r1, -7\nsdiv32 %r0, %r1", 14),
    ("lddw %r0, 0x100000064\nmod32 %r0, 7", 2),
    ("lddw %r0, 0x100000064\nmov %r1, 0\nmod32 %r0, %r1", 0x64),
    ("mov32 %r0, -100\nsmod32 %r0, 7", 0xFFFFFFFE),
    ("mov32 %r0, -100\nlddw %r1, 0x100000000\nsmod32 %r0, %r1", 0xFFFFFF9C),
    ("lddw %r0, 0xffffffff00000000\nor32 %r0, 1", 1),
    ("lddw %r0, 0xffffffff00000000\nmov %r1, 2\nor32 %r0, %r1", 2),
    ("mov %r0, -1\nand32 %r0, 0xf0", 0xF0),
    ("mov %r0, -1\nmov %r1, 0xf\nand32 %r0, %r1", 0xF),
    ("mov %r0, -1\nxor32 %r0, 1", M32 - 1),
    ("mov %r0, -1\nmov %r1, 2\nxor32 %r0, %r1", M32 - 2),
    ("mov32 %r0, 1\nlsh32 %r0, 31", 0x80000000),
    ("mov32 %r0, 1\nmov %r1, 33\nlsh32 %r0, %r1", 2),
    ("lddw %r0, 0x180000000\nrsh32 %r0, 31", 1),
    ("lddw %r0, 0x180000000\nmov %r1, 63\nrsh32 %r0, %r1", 1),
    ("mov32 %r0, 0x80000000\narsh32 %r0, 31", M32),
    ("mov32 %r0, 0x80000000\nmov %r1, 4\narsh32 %r0, %r1", 0xF8000000),
    ("mov32 %r0, -1", M32),
    ("mov %r1, -1\nmov32 %r0, %r1", M32),
    ("mov32 %r0, 1\nneg32 %r0", M32),
    ("mov %r1, 0x80\nmovsx832 %r0, %r1", 0xFFFFFF80),
    ("mov %r1, 0x8001\nmovsx1632 %r0, %r1", 0xFFFF8001),
    # byte order
    (BIG + "le16 %r0", 0x7788), (BIG + "le32 %r0", 0x55667788), (BIG + "le64 %r0", 0x1122334455667788),
    (BIG + "be16 %r0", 0x8877), (BIG + "be32 %r0", 0x88776655), (BIG + "be64 %r0", 0x8877665544332211),
    (BIG + "bswap16 %r0", 0x8877), (BIG + "bswap32 %r0", 0x88776655),
    (BIG + "bswap64 %r0", 0x8877665544332211),
]

MEMORY = [
    ("stdw [%r10-8], -2\nldxdw %r0, [%r10-8]", M64 - 1),
    ("stw [%r10-8], -2\nldxw %r0, [%r10-8]", M32 - 1),
    ("sth [%r10-8], -2\nldxh %r0, [%r10-8]", 0xFFFE),
    ("stb [%r10-8], -2\nldxb %r0, [%r10-8]", 0xFE),
    ("mov %r1, -2\nstxdw [%r10-16], %r1\nldxdw %r0, [%r10-16]", M64 - 1),
    ("mov %r1, -2\nstxw [%r10-16], %r1\nldxw %r0, [%r10-16]", M32 - 1),
    ("mov %r1, -2\nstxh [%r10-16], %r1\nldxh %r0, [%r10-16]", 0xFFFE),
    ("mov %r1, -2\nstxb [%r10-16], %r1\nldxb %r0, [%r10-16]", 0xFE),
    ("stw [%r10-8], -2\nldxsw %r0, [%r10-8]", M64 - 1),
    ("sth [%r10-8], -2\nldxsh %r0, [%r10-8]", M64 - 1),
    ("stb [%r10-8], -2\nldxsb %r0, [%r10-8]", M64 - 1),
    # through a copy of r10 (the general address path)
    ("mov %r2, %r10\nadd %r2, -8\nstdw [%r2], 7\nldxdw %r0, [%r2+0]", 7),
    ("mov %r2, %r10\nstb [%r2-1], 9\nldxsb %r0, [%r2-1]", 9),
    ("mov %r2, %r10\nsth [%r2-2], -1\nldxsh %r0, [%r2-2]", M64),
    ("mov %r2, %r10\nstw [%r2-4], -1\nldxsw %r0, [%r2-4]", M64),
    ("mov %r2, %r10\nmov %r3, 0x1ff\nstxb [%r2-1], %r3\nldxb %r0, [%r2-1]", 0xFF),
    # atomics (64 and 32 bit, with and without fetch)
    ("stdw [%r10-8], 5\nmov %r1, 3\nlock add [%r10-8], %r1\nldxdw %r0, [%r10-8]", 8),
    ("stdw [%r10-8], 5\nmov %r1, 3\nlock fetch add [%r10-8], %r1\nmov %r0, %r1", 5),
    ("stdw [%r10-8], -1\nmov %r1, 1\nlock add32 [%r10-8], %r1\nldxdw %r0, [%r10-8]", 0xFFFFFFFF00000000),
    ("stdw [%r10-8], 5\nmov %r1, 3\nlock fetch add32 [%r10-8], %r1\nldxw %r0, [%r10-8]\nadd %r0, %r1", 13),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock and [%r10-8], %r1\nldxdw %r0, [%r10-8]", 2),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock fetch and32 [%r10-8], %r1\nmov %r0, %r1", 6),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock or [%r10-8], %r1\nldxdw %r0, [%r10-8]", 7),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock fetch or32 [%r10-8], %r1\nldxw %r0, [%r10-8]", 7),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock xor [%r10-8], %r1\nldxdw %r0, [%r10-8]", 5),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock fetch xor32 [%r10-8], %r1\nmov %r0, %r1", 6),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock xchg [%r10-8], %r1\nldxdw %r0, [%r10-8]\nlsh %r0, 8\nor %r0, %r1", 0x306),
    ("stdw [%r10-8], -1\nmov %r1, 3\nlock xchg32 [%r10-8], %r1\nmov %r0, %r1", M32),
    ("stdw [%r10-8], 6\nmov %r0, 6\nmov %r1, 9\nlock cmpxchg [%r10-8], %r1\nldxdw %r1, [%r10-8]\nlsh %r1, 8\nor %r0, %r1", 0x906),
    ("stdw [%r10-8], 6\nmov %r0, 5\nmov %r1, 9\nlock cmpxchg32 [%r10-8], %r1\nldxdw %r1, [%r10-8]\nlsh %r1, 8\nor %r0, %r1", 0x606),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock fetch and [%r10-8], %r1\nldxdw %r0, [%r10-8]\nlsh %r0, 8\nor %r0, %r1", 0x206),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock fetch or [%r10-8], %r1\nldxdw %r0, [%r10-8]\nlsh %r0, 8\nor %r0, %r1", 0x706),
    ("stdw [%r10-8], 6\nmov %r1, 3\nlock fetch xor [%r10-8], %r1\nldxdw %r0, [%r10-8]\nlsh %r0, 8\nor %r0, %r1", 0x506),
    ("stdw [%r10-8], -1\nmov %r1, 3\nlock and32 [%r10-8], %r1\nldxdw %r0, [%r10-8]", 0xFFFFFFFF00000003),
    ("stdw [%r10-8], -4\nmov %r1, 3\nlock or32 [%r10-8], %r1\nldxdw %r0, [%r10-8]", M64),
    ("stdw [%r10-8], -1\nmov %r1, 3\nlock xor32 [%r10-8], %r1\nldxdw %r0, [%r10-8]", M64 - 3),
    ("mov %r2, %r10\nstdw [%r2-8], 1\nmov %r1, 2\nlock fetch add [%r2-8], %r1\nldxdw %r0, [%r2-8]\nadd %r0, %r1", 4),
    ("lddw %r0, 0x123456789\n", 0x123456789),
]

# (mnemonic, lhs, rhs, taken): run for the K and X forms
JUMPS64 = [
    ("jeq", 5, 5, True), ("jeq", 5, 6, False), ("jne", 5, 6, True), ("jne", 5, 5, False),
    ("jgt", -1, 1, True), ("jgt", 1, 1, False), ("jge", 1, 1, True), ("jge", 0, 1, False),
    ("jlt", 1, -1, True), ("jlt", 1, 1, False), ("jle", 1, 1, True), ("jle", -1, 1, False),
    ("jsgt", 1, -1, True), ("jsgt", -1, 1, False), ("jsge", -1, -1, True), ("jsge", -2, -1, False),
    ("jslt", -1, 1, True), ("jslt", 1, -1, False), ("jsle", -1, -1, True), ("jsle", 1, -1, False),
    ("jset", 6, 2, True), ("jset", 6, 1, False),
]
JUMPS32 = [  # lhs is loaded with high bits set that must be ignored
    ("jeq32", 5, 5, True), ("jne32", 5, 5, False), ("jgt32", -1, 1, True), ("jge32", 0, 1, False),
    ("jlt32", 1, -1, True), ("jle32", 2, 1, False), ("jsgt32", -1, 1, False), ("jsge32", 1, -1, True),
    ("jslt32", -1, 1, True), ("jsle32", 1, -1, False), ("jset32", 6, 2, True), ("jset32", 6, 8, False),
]


def _jump_prog(mn, lhs, rhs, form):
    hi = "lddw %r3, 0x500000000\nadd %r1, %r3\n" if mn.endswith("32") else ""
    cmp = f"{mn} %r1, {rhs}, +1" if form == "K" else f"mov %r2, {rhs}\n{mn} %r1, %r2, +1"
    return f"mov %r0, 0\nmov %r1, {lhs}\n{hi}{cmp}\nexit\nmov %r0, 1\nexit"


JUMP_CASES = [(_jump_prog(m, a, b, f), int(t)) for m, a, b, t in JUMPS64 + JUMPS32 for f in "KX"]
CONTROL = [
    ("mov %r0, 1\nja +1\nmov %r0, 2\nexit", 1),
    ("mov %r0, 1\nja32 +1\nmov %r0, 2\nexit", 1),
    ("mov %r1, 7\ncall local f\nadd %r0, 1\nexit\nf:\nmov %r0, %r1\nexit", 8),
    ("mov %r1, 0\ncall 1\nexit", 41),
    ("mov %r1, 0\nmov %r2, 1\ncall %r2\nexit", 41),
]
CASES = ALU + MEMORY + JUMP_CASES + CONTROL


def run(text_or_insns, **kw):
    prog = assemble(text_or_insns + "\nexit") if isinstance(text_or_insns, str) else text_or_insns
    vm = Vm(Memory(), helpers={1: lambda vm: 41})
    return vm.run(prog, **kw).r0


@pytest.mark.parametrize("text,want", CASES, ids=[f"{i}:{t.splitlines()[-1]}" for i, (t, _) in enumerate(CASES)])
def test_instruction(text, want):
    assert run(text) == want


def _all_opcodes() -> set[int]:
    codes = {o.LD_IMM64_CODE, 0x05, 0x06, 0x85, 0x8d, 0x95, 0x84, 0x87, 0xd4, 0xdc, 0xd7}
    for cl in (o.BPF_ALU, o.BPF_ALU64):
        for op in o.ALU_OPS:
            if op not in (o.BPF_NEG, o.BPF_END):
                codes |= {cl | op | o.BPF_K, cl | op | o.BPF_X}
    for cl in (o.BPF_JMP, o.BPF_JMP32):
        for op in o.JMP_COND_OPS:
            codes |= {cl | op | o.BPF_K, cl | op | o.BPF_X}
    for sz in o.SIZE_BYTES:
        codes |= {o.BPF_LDX | o.BPF_MEM | sz, o.BPF_ST | o.BPF_MEM | sz, o.BPF_STX | o.BPF_MEM | sz}
        if sz != o.BPF_DW:
            codes.add(o.BPF_LDX | o.BPF_MEMSX | sz)
    return codes | {o.BPF_STX | o.BPF_ATOMIC | o.BPF_W, o.BPF_STX | o.BPF_ATOMIC | o.BPF_DW}


def test_every_opcode_is_covered():
    seen = {i.code for text, _ in CASES for i in assemble(text + "\nexit")}
    assert _all_opcodes() - seen == set()


def test_every_atomic_op_is_covered():
    seen = {(i.code, i.imm) for text, _ in CASES for i in assemble(text + "\nexit") if o.is_atomic(i)}
    want = {(o.BPF_STX | o.BPF_ATOMIC | sz, imm) for sz in (o.BPF_W, o.BPF_DW) for imm in o.ATOMIC_OPS}
    assert want - seen == set()


def test_movsx_and_signed_forms_are_covered():
    insns = [i for text, _ in CASES for i in assemble(text + "\nexit")]
    assert {(i.code, i.off) for i in insns if o.is_movsx(i)} >= {
        (0xbc, 8), (0xbc, 16), (0xbf, 8), (0xbf, 16), (0xbf, 32)}
    assert {i.code for i in insns if o.is_sdiv_smod(i)} >= {0x34, 0x3c, 0x37, 0x3f, 0x94, 0x9c, 0x97, 0x9f}


def test_load_acquire_store_release():
    prog = [Insn(0xb7, 1, 0, 0, 77), Insn(0xdb, 10, 1, -8, o.BPF_STORE_REL),
            Insn(0xdb, 10, 0, -8, o.BPF_LOAD_ACQ), Insn(0x95)]
    assert run(prog) == 77


def test_may_goto_exits_the_loop_after_its_budget(monkeypatch):
    # r0 counts iterations of `may_goto +2; r0 += 1; goto -3` until may_goto jumps out
    # (BPF_MAX_LOOPS, lowered here so that the test stays fast).
    import harness.kernel.vm.codegen as tr
    monkeypatch.setattr(tr, "BPF_MAX_LOOPS", 1000)
    prog = [Insn(0xb7, 0, 0, 0, 0), Insn(0xb7, 9, 0, 0, 1234), Insn(0xe5, 0, 0, 2),
            Insn(0x07, 0, 0, 0, 1), Insn(0x05, 0, 0, -3), Insn(0x95)]
    assert run(prog) == 1000
    assert tr.BPF_MAX_LOOPS == 1000 and tr._translate.__module__ == tr.__name__
