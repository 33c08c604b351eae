"""Rewrites applied to a verified program, and the instruction patcher they share.

The kernel grows a program after verification (kernel/bpf/fixups.c bpf_do_misc_fixups,
via bpf_patch_insn_data): one slot is replaced by several, and every index that points
past the patched slot moves.  `patch_insn` is that patcher for our slot lists; it keeps
jump offsets, bpf-to-bpf call offsets, PSEUDO_FUNC ld_imm64 offsets, subprogram starts,
func_info, line_info and per-slot aux data consistent.  The one rule, as in the kernel:
every index strictly greater than the patched slot moves by the growth; the patched slot
itself (a jump target) stays where it is, now naming the first replacement slot.

The misc fixups we model: the percpu mov of upstream-spec §3.5 (after an ld_imm64
MAP_VALUE / MAP_IDX_VALUE into a PERCPU_ARRAY, only possible when the JIT supports the
percpu instruction, the VM must turn the per-CPU cookie into this CPU's address, which the
kernel does with `(bf) rX = &(void __percpu *)(rX)` inserted right after the load), and
the helper inlining of harness/kernel/inlining.py (bpf_get_smp_processor_id, map lookups
through map_gen_lookup, bpf_jiffies64).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from harness.isa import Insn
from harness.kernel.inlining import inline_helper_calls
from harness.kernel.progload import InsnAux
from harness.kernelapi import BpfError
from harness.uapi import (
    BPF_ADDR_PERCPU, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE,
    MapType,
)

LD_IMM64 = 0x18
_JMP, _JMP32 = 0x05, 0x06
_OP_JA, _OP_CALL, _OP_EXIT = 0x00, 0x80, 0x90


def mov64_percpu_reg(dst: int, src: int) -> Insn:
    """BPF_MOV64_PERCPU_REG (include/linux/filter.h): ALU64|MOV|X with off BPF_ADDR_PERCPU."""
    return Insn(0xBF, dst, src, BPF_ADDR_PERCPU, 0)


def is_percpu_mov(insn: Insn) -> bool:
    return insn.code == 0xBF and insn.off == BPF_ADDR_PERCPU


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


def _map_type(bpf_map) -> int | None:
    for name in ("map_type", "type"):
        value = getattr(bpf_map, name, None)
        if isinstance(value, int):
            return value
    attr = getattr(bpf_map, "attr", None)
    return getattr(attr, "map_type", None)


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


# ----------------------------------------------------------------------------------------
# Instruction removal (verifier_remove_insns) and the privileged dead-code optimisations.
#
# A loader with CAP_BPF (every configuration we model) gets opt_hard_wire_dead_code_branches,
# opt_remove_dead_code and opt_remove_nops instead of sanitize_dead_code: a conditional jump
# with a side the verifier never reached becomes `goto` (or a nop), unreached slots are
# deleted, and `goto +0` / `may_goto +0` nops disappear, so the xlated program is shorter
# than the one loaded.

NOP = Insn(_JMP | _OP_JA)                          # BPF_JMP_IMM(BPF_JA, 0, 0, 0)
MAY_GOTO_0 = Insn(_JMP | 0xE0)                     # BPF_JMP | BPF_JCOND, off 0


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


# ----------------------------------------------------------------------------------------
# Division and modulo guards (do_misc_fixups, "make divide-by-zero and divide-by-minus-one
# exceptions impossible").  BPF defines x / 0 = 0, x % 0 = x, INT_MIN s/ -1 = INT_MIN and
# x s% -1 = 0, which CPUs do not, so the kernel wraps every division by a register in a
# check and rewrites signed division by the constant -1.  The unsigned guards run as
# written; the signed ones use the kernel's hidden register AX (r11), which our VM does not
# have, so they are recorded for inlining.lower_for_vm, which runs the original division
# there (the VM's division already has BPF's results).

AX = 11                                            # BPF_REG_AX
_ALU, _ALU64 = 0x04, 0x07
_DIV, _MOD = 0x30, 0x90


def _div_mod_patch(insn: Insn) -> tuple[list[Insn], bool] | None:
    """(replacement slots, needs AX) for a division or modulo slot, or None."""
    cls, op = insn.code & 0x07, insn.code & 0xF0
    if cls not in (_ALU, _ALU64) or op not in (_DIV, _MOD):
        return None
    is64, d, s = cls == _ALU64, insn.dst, insn.src
    jmp = _JMP if is64 else _JMP32
    if not insn.code & 0x08:                       # BPF_K: only sdiv/smod by -1
        if insn.off != 1 or insn.imm != -1:
            return None
        if op == _DIV:
            return [Insn(cls | 0x80, d)], False                     # dst = -dst
        return [Insn(0xB4, d)], False                               # w_dst = 0
    mov_zero_tail = [] if is64 else [Insn(_JMP | _OP_JA, off=1), Insn(0xBC, d, d)]
    if insn.off == 1 and op == _DIV:
        return [Insn(0xBF, AX, s), Insn(cls, AX, imm=1), Insn(jmp | 0x20, AX, off=4, imm=1),
                Insn(jmp | 0x10, AX, off=1), Insn(cls | 0xB0, d), Insn(cls | 0x80, d),
                Insn(_JMP | _OP_JA, off=1), insn], True
    if insn.off == 1:
        return [Insn(0xBF, AX, s), Insn(cls, AX, imm=1), Insn(jmp | 0x20, AX, off=3, imm=1),
                Insn(jmp | 0x10, AX, off=3 if is64 else 4, imm=1), Insn(0xB4, d),
                Insn(_JMP | _OP_JA, off=1), insn, *mov_zero_tail], True
    if op == _DIV:
        return [Insn(jmp | 0x50, s, off=2), Insn(0xAC, d, d), Insn(_JMP | _OP_JA, off=1), insn], False
    return [Insn(jmp | 0x10, s, off=1 if is64 else 2), insn, *mov_zero_tail], False


def guard_div_mod(x: Xlated) -> int:
    """Apply _div_mod_patch everywhere.  Returns the slots rewritten."""
    from harness.kernel.inlining import INLINED
    found = []
    for i, insn in enumerate(x.insns):
        if i and x.insns[i - 1].code == LD_IMM64:
            continue
        patch = _div_mod_patch(insn)
        if patch is not None:
            found.append((i, insn, *patch))
    for i, insn, seq, needs_ax in found:
        if needs_ax:
            x.aux[i].extra[INLINED] = (insn, len(seq))
    patch_many(x, [(i, seq) for i, _, seq, _ in found])
    return len(found)


# ----------------------------------------------------------------------------------------
# may_goto (timed, as on x86-64): each `may_goto +off` becomes a countdown in a hidden
# stack slot 16 bytes below the function's stack, refilled by arch_bpf_timed_may_goto
# (a kernel-internal call) until time runs out; every function with one gets a prologue
# storing BPF_MAX_TIMED_LOOPS and a zero timestamp there, and jumps to the function's first
# slot skip the prologue (adjust_jmp_off).  The VM has neither AX nor that call: each
# sequence is recorded and runs as the original may_goto (inlining.lower_for_vm), the
# prologue as written.

BPF_MAX_TIMED_LOOPS = 0xFFFF
MAY_GOTO_CALL_IMM = 0        # the call's imm is a kernel function offset; ours says nothing
MAY_GOTO = "may_goto"


def _is_may_goto(insn: Insn) -> bool:
    return insn.code == (_JMP | 0xE0) and insn.src == 0


def _round8(n: int) -> int:
    return (n + 7) & ~7


def rewrite_may_goto(x: Xlated) -> int:
    """Apply the rewrite above.  Needs x.stack_depth (nothing happens without it).
    Returns the may_goto slots rewritten."""
    from harness.kernel.inlining import INLINED
    starts = sorted(x.subprog_starts)
    if len(x.stack_depth) != len(starts):
        return 0
    sites = [i for i, insn in enumerate(x.insns) if _is_may_goto(insn) and not (i and x.insns[i - 1].code == LD_IMM64)]
    if not sites:
        return 0
    subs = sorted({max(n for n, st in enumerate(starts) if st <= i) for i in sites})
    patches = []
    for i in sites:
        sub = max(n for n, st in enumerate(starts) if st <= i)
        cnt_off = -_round8(x.stack_depth[sub]) - 16
        off = x.insns[i].off
        seq = [Insn(0x79, AX, 10, cnt_off), Insn(_JMP | 0x10, AX, off=off + 5 if off >= 0 else off - 1),
               Insn(_ALU64 | 0x10, AX, imm=1), Insn(_JMP | 0x50, AX, off=2), Insn(0xB7, AX, imm=cnt_off),
               Insn(_JMP | _OP_CALL, imm=MAY_GOTO_CALL_IMM), Insn(0x7B, 10, AX, cnt_off)]
        x.aux[i].extra[INLINED] = (MAY_GOTO, len(seq))
        patches.append((i, seq))
    patch_many(x, patches)
    for sub in reversed(subs):
        depth = _round8(x.stack_depth[sub]) + 16
        x.stack_depth[sub] = depth
        start = x.subprog_starts[sub]
        first = x.insns[start]
        patch_insn(x, start, [Insn(0x7A, 10, off=-depth, imm=BPF_MAX_TIMED_LOOPS), Insn(0x7A, 10, off=-depth + 8),
                              first])
        # the original first slot moved to start + 2: its aux too, and jumps to it follow
        x.aux[start], x.aux[start + 2] = x.aux[start + 2], x.aux[start]
        for j, insn in enumerate(x.insns):
            if start <= j < start + 2:
                continue
            fld = _relative_field(x.insns, j)
            if fld is None or (insn.code & 0xF0) == _OP_CALL or insn.code == LD_IMM64:
                continue
            if j + getattr(insn, fld) + 1 == start:
                x.insns[j] = insn.replace(**{fld: getattr(insn, fld) + 2})
    return len(sites)


# ----------------------------------------------------------------------------------------
# LD_ABS / LD_IND (bpf_gen_ld_abs): the legacy packet loads become a call of an internal
# load function (helpers/internal.py) with the offset in r2 and the skb in r1 (the
# verifier guarantees the context is in r6), returning 0 from the program when the load
# fails.  The VM runs this as written.

def _gen_ld_abs(insn: Insn) -> list[Insn] | None:
    from harness.kernel.helpers.internal import SKB_LOAD
    mode, size = insn.code & 0xE0, {0x00: 4, 0x08: 2, 0x10: 1}.get(insn.code & 0x18)
    if insn.code & 0x07 != 0x00 or mode not in (0x20, 0x40) or size is None:
        return None
    if mode == 0x20:                                   # BPF_ABS
        out = [Insn(0xB7, 2, imm=insn.imm)]
    else:                                              # BPF_IND
        out = [Insn(0xBF, 2, insn.src)] + ([Insn(_ALU64, 2, imm=insn.imm)] if insn.imm else [])
    return out + [Insn(0xBF, 1, 6), Insn(_JMP | _OP_CALL, imm=SKB_LOAD[size]),
                  Insn(_JMP | 0x70, 0, off=2), Insn(0xAC, 0, 0), Insn(_JMP | _OP_EXIT)]


def gen_ld_abs(x: Xlated) -> int:
    """Rewrite every LD_ABS / LD_IND.  Returns how many."""
    found = [(i, seq) for i, insn in enumerate(x.insns)
             if not (i and x.insns[i - 1].code == LD_IMM64) and (seq := _gen_ld_abs(insn)) is not None]
    patch_many(x, found)
    return len(found)


def do_misc_fixups(x: Xlated, *, jit_percpu_insn: bool, jit_enabled: bool,
                   bypass_spec_v1: bool = True) -> None:
    """Insert the percpu mov after percpu ld_imm64 value loads; enforce jit_required;
    rewrite LD_ABS (gen_ld_abs), divisions (guard_div_mod), may_goto; inline helper calls
    (inlining.inline_helper_calls).  bypass_spec_v1: the maps were created with
    CAP_PERFMON (no index masking in inlined array lookups and tail calls)."""
    patches = []
    i = 0
    while i < len(x.insns):
        insn = x.insns[i]
        if insn.code != LD_IMM64:
            i += 1
            continue
        if (insn.src in (BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE) and jit_percpu_insn
                and _map_type(x.aux[i].map) == MapType.PERCPU_ARRAY):
            x.jit_required = True
            patches.append((i + 1, [x.insns[i + 1], mov64_percpu_reg(insn.dst, insn.dst)]))
        i += 2
    patch_many(x, patches)
    if x.jit_required and not jit_enabled:
        raise BpfError(errno.EINVAL, "program requires BPF JIT compiler but it is not available")
    gen_ld_abs(x)
    guard_div_mod(x)
    rewrite_may_goto(x)
    inline_helper_calls(x, jit_enabled=jit_enabled, jit_percpu_insn=jit_percpu_insn,
                        bypass_spec_v1=bypass_spec_v1)


# ----------------------------------------------------------------------------------------
# jit_subprogs: what the JIT leaves in the xlated program of a multi-function program.
# After JITing every function the kernel rewrites bpf-to-bpf calls to carry the callee's
# subprogram index in imm (the relative offset moves to off) and callback loads to carry
# it in their second slot, so `call pc+N` in a 6.18 xlated dump means "subprogram N".
# The VM wants relative offsets back: the original imm is kept in aux.extra[CALL_IMM] (the
# kernel's insn_aux_data.call_imm) and inlining.lower_for_vm restores it.

CALL_IMM = "call_imm"


def jit_subprogs(x: Xlated) -> int:
    """Apply the rewrite above (only with the JIT and more than one function).  Returns
    the calls and callback loads rewritten."""
    insns = x.insns
    targets = {0, *x.subprog_starts}
    sites = []
    for i, insn in enumerate(insns):
        if i and insns[i - 1].code == LD_IMM64:
            continue
        if (insn.code == _JMP | _OP_CALL and insn.src == BPF_PSEUDO_CALL) or (
                insn.code == LD_IMM64 and insn.src == BPF_PSEUDO_FUNC):
            targets.add(i + insn.imm + 1)
            sites.append(i)
    starts = sorted(targets)
    if len(starts) <= 1:
        return 0
    index = {s: n for n, s in enumerate(starts)}
    for i in sites:
        insn = insns[i]
        sub = index[i + insn.imm + 1]
        if insn.code == LD_IMM64:
            insns[i + 1] = insns[i + 1].replace(imm=sub)
        else:
            insns[i] = insn.replace(off=insn.imm, imm=sub)
            x.aux[i].extra[CALL_IMM] = insn.imm
    return len(sites)


# ----------------------------------------------------------------------------------------
# Context access conversion (the kernel's convert_ctx_accesses).
#
# A program reads `__sk_buff.data` / `xdp_md.data_end` as u32 fields, but what it gets is a
# 64-bit packet pointer: the kernel rewrites those loads to read the real pointer from its
# internal context.  We do the same: the run-time context region is the UAPI struct
# followed by one u64 per pointer field (progtypes.CtxLayout.hidden_offset), and loads of a
# pointer field through a register known to hold the context become u64 loads from there.
# Which registers hold the context comes from a small forward data-flow pass over the
# entry function (r1 at entry, copies by `rX = rY`, intersection at joins), which covers
# what compilers emit, spills and fills of the pointer on the stack included; the kernel uses
# the verifier's pointer types for the same decision.

_LDX_MEM = 0x61 & ~0x18          # BPF_LDX | BPF_MEM; size bits added per access
_SIZE_W, _SIZE_DW = 0x00, 0x18
_CALL_CLOBBERS = frozenset({0, 1, 2, 3, 4, 5})


_SLOT = 100      # stack slot at r10+off is tracked as the member _SLOT - off (off < 0)


def _ctx_regs_per_insn(insns: list[Insn]) -> list[frozenset[int] | None]:
    """For each slot of the entry function: registers (0..10) and spilled stack slots
    (_SLOT - off) surely holding the ctx pointer."""
    state: list[frozenset[int] | None] = [None] * len(insns)
    state[0] = frozenset({1})
    work = [0]
    while work:
        i = work.pop()
        s = state[i]
        insn = insns[i]
        cls, op = insn.code & 0x07, insn.code & 0xF0
        succs: list[int] = []
        out = s
        if insn.code == LD_IMM64:
            out, succs = s - {insn.dst}, [i + 2]
        elif cls in (0x04, 0x07):                      # ALU / ALU64
            if insn.code == 0xBF and insn.off == 0:
                out = s | {insn.dst} if insn.src in s else s - {insn.dst}
            else:
                out = s - {insn.dst}
            succs = [i + 1]
        elif insn.code == 0x79 and insn.src == 10:     # fill: rX = *(u64 *)(r10 + off)
            out = s | {insn.dst} if _SLOT - insn.off in s else s - {insn.dst}
            succs = [i + 1]
        elif cls in (0x00, 0x01):                      # legacy LD / LDX
            out, succs = s - {insn.dst, 0}, [i + 1]
        elif cls == 0x03 and (insn.code & 0xE0) == 0xC0:   # atomics may write src or r0
            out, succs = s - {insn.src, 0}, [i + 1]
        elif cls in (0x02, 0x03):
            if insn.dst == 10:                         # a stack store: spill or overwrite
                out = s - {_SLOT - (insn.off & ~7), _SLOT - insn.off}
                if insn.code == 0x7B and insn.src in s:
                    out = out | {_SLOT - insn.off}
            succs = [i + 1]
        elif cls in (_JMP, _JMP32):
            if op == _OP_EXIT:
                succs = []
            elif op == _OP_CALL:
                out, succs = s - _CALL_CLOBBERS, [i + 1]
            elif op == _OP_JA:
                rel = insn.imm if cls == _JMP32 else insn.off
                succs = [i + rel + 1]
            else:
                succs = [i + 1, i + insn.off + 1]
        for t in succs:
            if not 0 <= t < len(insns):
                continue
            merged = out if state[t] is None else state[t] & out
            if merged != state[t]:
                state[t] = merged
                work.append(t)
    return state


def convert_ctx_accesses(x: Xlated, pointer_fields: dict[int, int], prog_type: int | None = None) -> int:
    """Rewrite u32 loads of context pointer fields (`pointer_fields`: UAPI offset ->
    hidden u64 offset).  With `prog_type`, whole-field loads and stores of `__sk_buff` /
    `xdp_md` also take the form 6.18 gives them (accesses of struct sk_buff / xdp_buff,
    ctxconv.py) in the xlated program, while the VM runs the access of our context layout
    there (recorded for inlining.lower_for_vm).  Returns how many accesses were converted."""
    if not x.insns or (not pointer_fields and prog_type is None):
        return 0
    from harness.kernel.ctxconv import ctx_template
    from harness.kernel.inlining import INLINED
    regs = _ctx_regs_per_insn(x.insns)
    patches = []
    done = 0
    for i, insn in enumerate(x.insns):
        s = regs[i]
        if not s:
            continue
        load = (insn.code & 0xE7) == 0x61 and insn.src in s                 # LDX | MEM from the ctx
        store = (insn.code & 0xE7) == 0x63 and insn.dst in s                # STX | MEM into it
        if not (load or store):
            continue
        runtime = insn
        if load and insn.code == (_LDX_MEM | _SIZE_W) and insn.off in pointer_fields:
            runtime = insn.replace(code=_LDX_MEM | _SIZE_DW, off=pointer_fields[insn.off])
            x.insns[i] = runtime
        tmpl = ctx_template(prog_type, store, insn.off, _SIZE_BYTES[insn.code & 0x18]) if prog_type else None
        if tmpl is not None:
            roles = {"V": insn.dst if load else insn.src, "C": insn.src if load else insn.dst}
            seq = [Insn(code, roles.get(d, d), roles.get(r, r), off, imm) for code, d, r, off, imm in tmpl]
            x.aux[i].extra[INLINED] = (runtime, len(seq))
            patches.append((i, seq))
        done += runtime is not insn or tmpl is not None
    patch_many(x, patches)
    return done


# Speculation barriers (convert_ctx_accesses): the verifier marks instructions that need a
# BPF_ST_NOSPEC before them (aux.extra["nospec"], Spectre v1 paths) or after a stack write
# (aux.extra["nospec_result"], Spectre v4: the first write of a slot, spills of pointers)
# for loaders without CAP_PERFMON; the barrier is inserted here.  Our verifier does not set
# the marks yet, so nothing happens until it does.  The VM runs a barrier as a nop.

ST_NOSPEC = Insn(0xC2)                 # BPF_ST | BPF_NOSPEC
_WRITES = frozenset({0x62, 0x6A, 0x72, 0x7A, 0x63, 0x6B, 0x73, 0x7B})      # ST / STX MEM, every size


def insert_nospec(x: Xlated) -> int:
    """Insert the barriers the verifier asked for.  Returns how many."""
    patches, keep, done = [], {}, 0
    for i, a in enumerate(x.aux):
        before = a.extra.get("nospec") if a.extra else None
        after = a.extra.get("nospec_result") and x.insns[i].code in _WRITES if a.extra else None
        if before or after:
            seq = ([ST_NOSPEC] if before else []) + [x.insns[i]] + ([ST_NOSPEC] if after else [])
            patches.append((i, seq))
            keep[i] = 1 if before else 0             # the instruction keeps its facts
            done += len(seq) - 1
    patch_many(x, patches, keep)
    return done


_SIZE_BYTES = {0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8}


def max_ctx_offset(insns: list[Insn]) -> int:
    """prog->aux->max_ctx_offset: the end of the furthest context byte the entry function
    loads (raw_tp and syscall test_run refuse a shorter ctx_in with EINVAL)."""
    if not insns:
        return 0
    regs = _ctx_regs_per_insn(insns)
    end = 0
    for i, insn in enumerate(insns):
        s = regs[i]
        if s and (insn.code & 0xE7) == 0x61 and insn.src in s:      # LDX | MEM, any size
            end = max(end, insn.off + _SIZE_BYTES[insn.code & 0x18])
    return end
