"""The rewrites of a verified program (do_misc_fixups and jit_subprogs), and the one place
the post-verification modules are reached from (their names are re-exported here):
harness/kernel/patcher.py (patching and removal), deadcode.py, fastcall.py, inlining.py,
ctxfix.py (context accesses, speculation barriers, max_ctx_offset).

Here: the percpu mov of upstream-spec §3.5 (after an ld_imm64 MAP_VALUE / MAP_IDX_VALUE
into a PERCPU_ARRAY, only possible when the JIT supports the percpu instruction, the VM
must turn the per-CPU cookie into this CPU's address, which the kernel does with
`(bf) rX = &(void __percpu *)(rX)` inserted right after the load), LD_ABS / LD_IND,
division guards, timed may_goto, jit_subprogs; do_misc_fixups also runs the helper
inlining of inlining.py.  docs/emulated-progs.md ("xlated rewrites") lists them all in the
kernel's order with what the VM runs instead where it differs.
"""

from __future__ import annotations

import errno

from harness.isa import Insn
from harness.kernel.ctxfix import (  # noqa: F401
    CTX_ACCESS, ST_NOSPEC, convert_ctx_accesses, insert_nospec, mark_ctx_accesses, max_ctx_offset,
)
from harness.kernel.deadcode import (  # noqa: F401
    DEAD_CODE_TRAP, MAY_GOTO_0, NOP, opt_hard_wire_dead_code_branches, opt_remove_dead_code, opt_remove_nops,
    optimize_dead_code, sanitize_dead_code,
)
from harness.kernel.inlining import inline_helper_calls
from harness.kernel.patcher import (  # noqa: F401
    _JMP, _JMP32, _OP_CALL, _OP_EXIT, _OP_JA, LD_IMM64, Xlated, _relative_field, patch_insn, patch_many,
    remove_insns, remove_many,
)
from harness.kernelapi import BpfError
from harness.uapi import (
    BPF_ADDR_PERCPU, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE,
    MapType,
)


def mov64_percpu_reg(dst: int, src: int) -> Insn:
    """BPF_MOV64_PERCPU_REG (include/linux/filter.h): ALU64|MOV|X with off BPF_ADDR_PERCPU."""
    return Insn(0xBF, dst, src, BPF_ADDR_PERCPU, 0)


def is_percpu_mov(insn: Insn) -> bool:
    return insn.code == 0xBF and insn.off == BPF_ADDR_PERCPU


def _map_type(bpf_map) -> int | None:
    for name in ("map_type", "type"):
        value = getattr(bpf_map, name, None)
        if isinstance(value, int):
            return value
    attr = getattr(bpf_map, "attr", None)
    return getattr(attr, "map_type", None)


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


# ----------------------------------------------------------------------------------------
# Zero extension after a 32-bit cmpxchg (opt_subreg_zext_lo32_rnd_hi32): x86-64 needs no
# zero extension in general, but BPF_CMPXCHG always loads r0 while some CPUs' instruction
# only does so on success, so the kernel adds `w0 = w0` (BPF_ZEXT_REG: imm 1) after a
# 32-bit one whose r0 the verifier saw read as 64 bits later (zext_dst).  We find such
# reads with a forward walk from the cmpxchg until r0 is redefined, reads taken as 64-bit
# the way the verifier's is_reg64 takes them.

ZEXT_R0 = Insn(0xBC, 0, 0, 0, 1)


def _reads_r0_64(insn: Insn) -> bool:
    cls, op, x = insn.code & 0x07, insn.code & 0xF0, insn.code & 0x08
    if cls == _JMP:
        if op == _OP_EXIT:
            return True
        if op == _OP_CALL:
            return False                                      # r0 is no argument
        return insn.dst == 0 or (bool(x) and insn.src == 0)
    if cls == _ALU64:
        if op == 0xD0:                                        # bswap: 16/32 are 32-bit reads
            return insn.dst == 0 and insn.imm == 64
        reads_dst = op != 0xB0
        return (reads_dst and insn.dst == 0) or (bool(x) and insn.src == 0)
    if cls == _ALU:
        return op == 0xD0 and insn.imm == 64 and insn.dst == 0
    if cls == 0x03:                                           # STX (atomics included)
        return (insn.src == 0 or (insn.code & 0xE0 == 0xC0 and insn.imm & 0xF0 == 0xF0)) \
            and insn.code & 0x18 == 0x18
    return (cls == 0x01 and insn.src == 0) or (cls == 0x02 and insn.dst == 0)    # r0 as a pointer


def _defines_r0(insn: Insn) -> bool:
    cls, op = insn.code & 0x07, insn.code & 0xF0
    if insn.code == LD_IMM64 or cls in (_ALU, _ALU64, 0x01):
        return insn.dst == 0
    if cls == _JMP and op == _OP_CALL:
        return True
    if cls == 0x03 and insn.code & 0xE0 == 0xC0:              # atomics: cmpxchg writes r0
        return insn.imm == 0xF1 or (insn.imm & 0x01 and insn.src == 0)
    return cls == 0x00                                        # LD_ABS / LD_IND


def _succ(insns: list[Insn], i: int) -> list[int]:
    insn = insns[i]
    cls, op = insn.code & 0x07, insn.code & 0xF0
    if insn.code == LD_IMM64:
        return [i + 2]
    if cls not in (_JMP, _JMP32) or op == _OP_CALL:
        return [i + 1]
    if op == _OP_EXIT:
        return []
    if op == _OP_JA:
        return [i + (insn.imm if cls == _JMP32 else insn.off) + 1]
    return [i + 1, i + insn.off + 1]


def zext_cmpxchg32(x: Xlated) -> int:
    """Add BPF_ZEXT_REG(r0) after each 32-bit cmpxchg whose r0 is read as 64 bits on some
    path before being written again.  Returns how many."""
    insns, n = x.insns, len(x.insns)
    patches = []
    for i, insn in enumerate(insns):
        if insn.code != 0xC3 or insn.imm != 0xF1 or (i and insns[i - 1].code == LD_IMM64):
            continue
        seen, work, needed = set(), [t for t in _succ(insns, i) if 0 <= t < n], False
        while work and not needed:
            j = work.pop()
            if j in seen:
                continue
            seen.add(j)
            if _reads_r0_64(insns[j]):
                needed = True
            elif not _defines_r0(insns[j]):
                work += [t for t in _succ(insns, j) if 0 <= t < n]
        if needed:
            patches.append((i, [insn, ZEXT_R0]))
    patch_many(x, patches)
    return len(patches)


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


