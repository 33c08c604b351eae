"""The instruction patcher and remover shared by every post-verification rewrite.

The kernel grows a program after verification (bpf_patch_insn_data: one slot replaced by
several, every index past it moving) and shrinks it (bpf_remove_insns: dead code, nops).
`Xlated` is the program being rewritten with everything indexed by slot; `patch_many` /
`patch_insn` and `remove_many` / `remove_insns` keep jump offsets, bpf-to-bpf call
offsets, PSEUDO_FUNC ld_imm64 offsets, subprogram starts, func_info, line_info, stack
depths and per-slot aux data consistent, with the kernel's rules: on a patch, indices
strictly greater than the patched slot move and the patched slot (a jump target) names the
first replacement slot; on a removal, a jump to a removed slot lands on the first slot after
the hole.  Both work on many sites in one pass (a pass per site is quadratic on big
programs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.isa import Insn
from harness.kernel.progload import InsnAux
from harness.uapi import BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC

LD_IMM64 = 0x18
_JMP, _JMP32 = 0x05, 0x06
_OP_JA, _OP_CALL, _OP_EXIT = 0x00, 0x80, 0x90


@dataclass
class Xlated:
    """A program being rewritten: the slots and everything indexed by slot."""
    insns: list[Insn]
    aux: list[InsnAux]
    subprog_starts: list[int] = field(default_factory=lambda: [0])
    func_info: list[tuple[int, int]] = field(default_factory=list)
    line_info: list[tuple[int, int, int, int]] = field(default_factory=list)
    jit_required: bool = False
    #: the verifier's per-subprogram stack depths (aligned with subprog_starts), grown by
    #: the rewrites that claim stack (bpf_loop inlining, may_goto's counter)
    stack_depth: list[int] = field(default_factory=list)


def _relative_field(insns: list[Insn], i: int) -> str | None:
    """Which field of slot i holds a slot-relative target: 'off', 'imm' or None."""
    insn = insns[i]
    if i > 0 and insns[i - 1].code == LD_IMM64:
        return None                       # second slot of a wide instruction
    if insn.code == LD_IMM64:
        return "imm" if insn.src == BPF_PSEUDO_FUNC else None
    cls, op = insn.code & 0x07, insn.code & 0xF0
    if cls not in (_JMP, _JMP32) or op == _OP_EXIT:
        return None
    if op == _OP_CALL:
        return "imm" if insn.src == BPF_PSEUDO_CALL else None
    if cls == _JMP32 and op == _OP_JA:
        return "imm"                      # gotol: 32-bit offset in imm
    return "off"


def patch_insn(x: Xlated, pos: int, new: list[Insn]) -> None:
    """Replace slot `pos` by the slots `new` (new[0] usually being the original slot)."""
    patch_many(x, [(pos, new)])


def patch_many(x: Xlated, patches, keep_aux_at: dict[int, int] | None = None) -> None:
    """Apply several patches [(pos, new slots)] at distinct positions in one pass, with the
    result of applying them one by one (bpf_patch_insn_data's rules), which would cost a
    pass over the program each.  Each patch is written as if it were the only one: a
    jump inside `new` that leaves it counts its target in the program as it would be
    after that patch alone.  The patched slot's aux stays with new[keep_aux_at[pos]]
    (default 0); the other new slots get fresh aux with its `seen`."""
    if not patches:
        return
    for pos, new in patches:
        if not new:
            raise ValueError("patch_insn needs at least one replacement slot")
    by_pos = dict(patches)
    if len(by_pos) != len(patches):
        raise ValueError("patch_many needs distinct positions")
    keep_aux_at = keep_aux_at or {}
    old, n = x.insns, len(x.insns)
    # map[j]: new index of old slot j (its first new slot when patched); map[n]: the end
    shift, mapping = 0, [0] * (n + 1)
    for j in range(n + 1):
        mapping[j] = j + shift
        if j in by_pos:
            shift += len(by_pos[j]) - 1
    out: list[Insn] = []
    aux: list[InsnAux] = []
    for j in range(n):
        seq = by_pos.get(j)
        if seq is None:
            insn = old[j]
            fld = _relative_field(old, j)
            if fld is not None:
                target = j + getattr(insn, fld) + 1
                if 0 <= target <= n:
                    insn = insn.replace(**{fld: mapping[target] - mapping[j] - 1})
            out.append(insn)
            aux.append(x.aux[j])
            continue
        delta = len(seq) - 1
        for k, insn in enumerate(seq):
            fld = _relative_field(seq, k)
            if fld is not None:
                local = j + k + getattr(insn, fld) + 1          # after this patch alone
                if not j <= local < j + len(seq):
                    orig = local - delta if local >= j + len(seq) else local
                    if 0 <= orig <= n:
                        insn = insn.replace(**{fld: mapping[orig] - (mapping[j] + k) - 1})
            out.append(insn)
        fresh = [InsnAux(seen=x.aux[j].seen) for _ in seq]
        fresh[keep_aux_at.get(j, 0)] = x.aux[j]
        aux.extend(fresh)
    x.insns = out
    x.aux = aux
    x.subprog_starts = [mapping[s] for s in x.subprog_starts]
    x.func_info = [(mapping[off], tid) for off, tid in x.func_info]
    x.line_info = [(mapping[off], *rest) for off, *rest in x.line_info]


def remove_insns(x: Xlated, off: int, cnt: int) -> None:
    """Delete slots [off, off + cnt) the way bpf_remove_insns and its helpers do: jumps
    from before the hole over it and from after it back over (or into) it shrink by cnt, so
    a jump to a removed slot lands on the first slot after the hole; subprogram
    starts, func_info and line_info after it move back (a subprogram wholly inside the
    hole is dropped with its func_info; line info of removed slots is dropped, the last
    one carried over to the first surviving slot when that has none)."""
    if cnt > 0:
        remove_many(x, range(off, off + cnt))


def remove_many(x: Xlated, slots) -> None:
    """remove_insns for every maximal run of `slots`, with the result of removing them one
    run at a time, in one pass over the program (the per-run bookkeeping of subprograms
    and line info works on those short lists, from the last run back)."""
    gone = set(slots)
    if not gone:
        return
    old, n = x.insns, len(x.insns)
    runs: list[list[int]] = []
    for i in sorted(gone):
        if runs and runs[-1][1] == i:
            runs[-1][1] = i + 1
        else:
            runs.append([i, i + 1])
    # new index of each old slot; a removed slot maps to the first kept slot after it
    mapping, kept = [0] * (n + 1), 0
    for j in range(n):
        mapping[j] = kept
        if j not in gone:
            kept += 1
    mapping[n] = kept
    out, aux = [], []
    for j in range(n):
        if j in gone:
            continue
        insn = old[j]
        fld = _relative_field(old, j)
        if fld is not None:
            target = j + getattr(insn, fld) + 1
            if 0 <= target <= n:
                insn = insn.replace(**{fld: mapping[target] - mapping[j] - 1})
        out.append(insn)
        aux.append(x.aux[j])
    x.insns, x.aux = out, aux
    length = n
    for off, end in reversed(runs):
        _remove_bookkeeping(x, off, end - off, length)
        length -= end - off


def _remove_bookkeeping(x: Xlated, off: int, cnt: int, length: int) -> None:
    """Subprogram starts, func_info, stack depths and line info after removing
    [off, off + cnt) from a program of `length` slots."""
    end = off + cnt
    starts = x.subprog_starts
    keep_start, keep_info, kept = [], [], []
    for k, start in enumerate(starts):
        nxt = starts[k + 1] if k + 1 < len(starts) else length
        if off <= start < end and nxt <= end:
            continue                                   # the whole subprogram is gone
        keep_start.append(start - cnt if start >= end else min(start, off) if start >= off else start)
        kept.append(k)
        if k < len(x.func_info):
            keep_info.append(k)
    if x.func_info:
        x.func_info = [(keep_start[n], x.func_info[k][1]) for n, k in enumerate(keep_info)]
    if len(x.stack_depth) == len(starts):
        x.stack_depth = [x.stack_depth[k] for k in kept]
    x.subprog_starts = keep_start
    x.line_info = _linfo_after_remove(x.line_info, off, cnt, length - cnt)


def _linfo_after_remove(linfo, off: int, cnt: int, new_len: int):
    end = off + cnt
    linfo = list(linfo)
    first = next((i for i, li in enumerate(linfo) if li[0] >= off), len(linfo))
    i = first
    while i < len(linfo) and linfo[i][0] < end:
        i += 1
    removed = i - first
    if new_len != off and removed and (i == len(linfo) or linfo[i][0] != end):
        removed -= 1
        i -= 1
        linfo[i] = (end, *linfo[i][1:])
    del linfo[first:first + removed]
    return [(li[0] - cnt, *li[1:]) if n >= first else li for n, li in enumerate(linfo)]


