"""Dead code after verification: the kernel's sanitize_dead_code (loaders without CAP_BPF)
and, for a loader with CAP_BPF (every configuration we model), opt_hard_wire_dead_code_branches,
opt_remove_dead_code and opt_remove_nops: a conditional jump with a side the verifier never
reached becomes `goto` (or a nop), unreached slots are deleted, and `goto +0` /
`may_goto +0` nops disappear, so the xlated program is shorter than the one loaded.
"""

from __future__ import annotations

from harness.isa import Insn
from harness.kernel.patcher import _JMP, _JMP32, _OP_CALL, _OP_EXIT, _OP_JA, LD_IMM64, Xlated, remove_many

# The kernel's dead-code trap: `goto pc-1`, an endless loop nobody can reach.
DEAD_CODE_TRAP = Insn(_JMP | _OP_JA, off=-1)


def sanitize_dead_code(x: Xlated) -> int:
    """Replace every slot the verifier never reached by the trap (kernel sanitize_dead_code).

    Dead code is never checked, so it may hold anything the verifier would refuse on a
    live path (a write to r10, a division by zero, ...); the kernel neutralises it before
    the program runs, and so do we, so that the VM never has to translate it.  Does
    nothing when no slot is marked seen (no verifier ran).  Returns the slots replaced."""
    if not any(a.seen for a in x.aux):
        return 0
    replaced = 0
    i = 0
    while i < len(x.insns):
        width = 2 if x.insns[i].code == LD_IMM64 else 1
        if not x.aux[i].seen:
            for k in range(i, min(i + width, len(x.insns))):
                x.insns[k] = DEAD_CODE_TRAP
                replaced += 1
        i += width
    return replaced


NOP = Insn(_JMP | _OP_JA)                          # BPF_JMP_IMM(BPF_JA, 0, 0, 0)
MAY_GOTO_0 = Insn(_JMP | 0xE0)                     # BPF_JMP | BPF_JCOND, off 0


def _seen_slots(x: Xlated) -> list[bool]:
    """aux.seen per slot, the second slot of an ld_imm64 sharing its first slot's mark."""
    seen = [a.seen for a in x.aux]
    i = 0
    while i < len(x.insns):
        if x.insns[i].code == LD_IMM64 and i + 1 < len(seen):
            seen[i + 1] = seen[i]
            i += 2
        else:
            i += 1
    return seen


def _is_cond_jump(insn: Insn) -> bool:
    cls, op = insn.code & 0x07, insn.code & 0xF0
    if cls == _JMP32:
        return op != _OP_JA
    return cls == _JMP and op not in (_OP_JA, _OP_EXIT, _OP_CALL)


def opt_hard_wire_dead_code_branches(x: Xlated) -> int:
    """A conditional jump whose fall-through was never reached becomes `goto off`; one
    whose target was never reached becomes a nop.  Returns the jumps rewritten."""
    seen = _seen_slots(x)
    done = 0
    for i, insn in enumerate(x.insns):
        if (i and x.insns[i - 1].code == LD_IMM64) or not _is_cond_jump(insn):
            continue
        if i + 1 < len(seen) and not seen[i + 1]:
            x.insns[i] = Insn(_JMP | _OP_JA, off=insn.off)
        elif 0 <= i + 1 + insn.off < len(seen) and not seen[i + 1 + insn.off]:
            x.insns[i] = NOP
        else:
            continue
        done += 1
    return done


def opt_remove_dead_code(x: Xlated) -> int:
    """Delete every run of never-reached slots.  Returns the slots removed."""
    seen = _seen_slots(x)
    dead = [i for i, s in enumerate(seen) if not s]
    remove_many(x, dead)
    return len(dead)


def opt_remove_nops(x: Xlated) -> int:
    """Delete `goto +0` and `may_goto +0`, again while removing made new ones (a
    `may_goto +1` in front of a removed nop).  Returns the slots removed."""
    removed = 0
    while True:
        nops = [i for i, insn in enumerate(x.insns)
                if (insn == NOP or insn == MAY_GOTO_0) and not (i and x.insns[i - 1].code == LD_IMM64)]
        if not nops:
            return removed
        remove_many(x, nops)
        removed += len(nops)


def optimize_dead_code(x: Xlated) -> int:
    """The three privileged optimisations in the kernel's order (nothing without a
    verifier pass: no slot is marked seen).  Returns the slots removed."""
    if not any(a.seen for a in x.aux):
        return 0
    opt_hard_wire_dead_code_branches(x)
    return opt_remove_dead_code(x) + opt_remove_nops(x)


