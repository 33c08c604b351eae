"""Bounded-loop fuzzing: random programs with one backward loop, on both kernels.

`gen.py` only jumps forward: its programs are minimised by deleting instructions, and a
loop whose counter update was deleted would run to the verifier's instruction limit.
Loops are where 6.18's verifier is most intricate (states inside a loop compared by
ranges, precision through iterations, widening), so they get this generator of their own,
without minimisation (the programs are short): a counter in r9 (a constant, or a context
byte masked to 0..3, 0..7 or 0..15), a body of ALU operations on r0/r7/r8, stack stores
and loads of one slot, a stack byte indexed by the counter and forward jumps inside the
body, then `r9 -= 1; if r9 s> 0 goto body`.  The
verdict, the processed count and the test-run return value must agree.  Used by
`python -m harness fuzz-diff --what loops`; case i of a seed is always the same.
"""

from __future__ import annotations

import random

from harness.isa import Insn, encode, opcodes as o
from harness.kernelapi import BpfError, ProgLoadAttr, TestRunAttr
from harness.uapi import ProgType

BODY_REGS = (0, 7, 8)
ALU_OPS = (o.BPF_ADD, o.BPF_SUB, o.BPF_MUL, o.BPF_OR, o.BPF_AND, o.BPF_XOR, o.BPF_LSH, o.BPF_RSH,
           o.BPF_ARSH, o.BPF_MOV)
DATA = bytes(range(64))


def _alu(rng: random.Random) -> Insn:
    cl = o.BPF_ALU64 if rng.random() < 0.7 else o.BPF_ALU
    opc = rng.choice(ALU_OPS)
    dst = rng.choice(BODY_REGS)
    if opc in (o.BPF_LSH, o.BPF_RSH, o.BPF_ARSH):
        return Insn(cl | opc, dst, imm=rng.randrange(32))
    if rng.random() < 0.4:
        return Insn(cl | opc | o.BPF_X, dst, rng.choice(BODY_REGS + (9,)))
    return Insn(cl | opc, dst, imm=rng.choice((1, 2, 3, -1, 7, 255, rng.randrange(-100, 100))))


def random_loop_program(rng: random.Random) -> list[Insn]:
    out = [Insn(o.BPF_ALU64 | o.BPF_MOV | o.BPF_X, 6, 1)]
    for r in BODY_REGS:
        out.append(Insn(o.BPF_ALU64 | o.BPF_MOV, r, imm=rng.randrange(-20, 20)))
    out.append(Insn(o.BPF_STX | o.BPF_MEM | o.BPF_DW, 10, 7, off=-8))
    if rng.random() < 0.5:
        out.append(Insn(o.BPF_ALU64 | o.BPF_MOV, 9, imm=rng.randrange(1, 30)))
    else:
        out.append(Insn(o.BPF_LDX | o.BPF_MEM | o.BPF_W, 9, 6, off=0))      # skb->len
        out.append(Insn(o.BPF_ALU64 | o.BPF_AND, 9, imm=rng.choice((3, 7, 15))))
    body: list[Insn] = []
    for _ in range(rng.randrange(1, 9)):
        kind = rng.random()
        if kind < 0.5:
            body.append(_alu(rng))
        elif kind < 0.6:                        # a stack byte indexed by the counter
            body += [Insn(o.BPF_ALU64 | o.BPF_MOV | o.BPF_X, 2, 10),
                     Insn(o.BPF_ALU64 | o.BPF_MOV | o.BPF_X, 3, 9),
                     Insn(o.BPF_ALU64 | o.BPF_AND, 3, imm=7),
                     Insn(o.BPF_ALU64 | o.BPF_ADD | o.BPF_X, 2, 3),
                     Insn(o.BPF_ST | o.BPF_MEM | o.BPF_B, 2, off=-16, imm=1)]
        elif kind < 0.75:
            body.append(Insn(o.BPF_STX | o.BPF_MEM | o.BPF_DW, 10, rng.choice(BODY_REGS), off=-8))
        elif kind < 0.9:
            body.append(Insn(o.BPF_LDX | o.BPF_MEM | rng.choice((o.BPF_DW, o.BPF_W, o.BPF_B)),
                             rng.choice(BODY_REGS), 10, off=-8))
        else:                                   # skip the next body instruction sometimes
            body.append(Insn(o.BPF_JMP | rng.choice((o.BPF_JGT, o.BPF_JSLT, o.BPF_JEQ, o.BPF_JSET)),
                             rng.choice(BODY_REGS), imm=rng.randrange(-5, 40), off=1))
            body.append(_alu(rng))
    body.append(Insn(o.BPF_ALU64 | o.BPF_SUB, 9, imm=1))
    body.append(Insn(o.BPF_JMP | o.BPF_JSGT, 9, imm=0, off=-(len(body) + 1)))
    out.extend(body)
    if rng.random() < 0.5:                      # use the loop's result in a decision
        out.append(Insn(o.BPF_JMP | o.BPF_JGT, 0, imm=rng.randrange(0, 50), off=1))
        out.append(Insn(o.BPF_ALU64 | o.BPF_MOV, 0, imm=1))
    out.append(Insn(o.BPF_JMP | o.BPF_EXIT))
    return out


def observe(kernel, insns: list[Insn]) -> tuple:
    try:
        res = kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(insns), license="GPL",
                                            log_level=1))
    except BpfError as exc:
        return ("rejected", exc.errno_name, exc.message)
    try:
        run = kernel.prog_test_run(res.fd, TestRunAttr(data_in=DATA))
        return ("loaded", res.verified_insns, run.retval)
    except BpfError as exc:
        return ("loaded", res.verified_insns, exc.errno_name)
    finally:
        kernel.close(res.fd)


def fuzz_loops(real, emulated, count: int, seed: int) -> list:
    from harness.isa.disasm import disasm
    from harness.realkernel.fuzz import Difference
    diffs = []
    for i in range(count):
        case_seed = seed + i
        insns = random_loop_program(random.Random(f"loops:{case_seed}"))
        want, got = observe(real, insns), observe(emulated, insns)
        if want != got:
            kind = "verdict" if want[0] != got[0] else "processed" if want[1] != got[1] else "retval"
            diffs.append(Difference(kind, case_seed, f"real {want} emulated {got}", disasm(insns)))
    return diffs
