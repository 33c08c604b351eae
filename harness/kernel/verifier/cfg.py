"""Structural checks before abstract interpretation, in the kernel's order:

1. every opcode is in the instruction table (`unknown opcode %02x`), ld_imm64 pairs are whole;
2. subprograms (insn 0, bpf-to-bpf call targets, ld_imm64 BPF_PSEUDO_FUNC targets): jumps stay
   inside their subprogram, each ends with exit or ja (check_subprogs);
3. check_cfg: depth-first walk from insn 0: jump targets exist, no jump into an ld_imm64's
   second slot, every instruction is reachable; back-edges only matter without CAP_BPF;
4. register liveness (compute_live_registers), used for pruning and the level-2 log.

Each check raises CfgError(errno, message), which the verifier turns into a BpfError.
"""

from __future__ import annotations

import errno

from harness.isa import Insn
from harness.isa import opcodes as o


class CfgError(Exception):
    def __init__(self, err: int, message: str):
        super().__init__(message)
        self.errno = err
        self.message = message


def _opcode_table() -> frozenset[int]:
    codes = set()
    for cl in (o.BPF_ALU, o.BPF_ALU64):
        for opc in o.ALU_OPS:
            if opc == o.BPF_NEG:
                codes.add(cl | opc)
            elif opc == o.BPF_END:
                codes.add(cl | opc | o.BPF_TO_LE)
                if cl == o.BPF_ALU:
                    codes.add(cl | opc | o.BPF_TO_BE)
            else:
                codes.update({cl | opc | o.BPF_K, cl | opc | o.BPF_X})
    for cl in (o.BPF_JMP, o.BPF_JMP32):
        codes.add(cl | o.BPF_JA)
        for opc in o.JMP_COND_OPS:
            codes.update({cl | opc | o.BPF_K, cl | opc | o.BPF_X})
    codes.update({o.BPF_JMP | o.BPF_CALL, o.BPF_JMP | o.BPF_EXIT, o.BPF_JMP | o.BPF_JCOND})
    codes.add(o.LD_IMM64_CODE)
    for sz in (o.BPF_W, o.BPF_H, o.BPF_B):
        codes.update({o.BPF_LD | o.BPF_ABS | sz, o.BPF_LD | o.BPF_IND | sz,
                      o.BPF_LDX | o.BPF_MEMSX | sz})
    for sz in (o.BPF_W, o.BPF_H, o.BPF_B, o.BPF_DW):
        codes.update({o.BPF_LDX | o.BPF_MEM | sz, o.BPF_ST | o.BPF_MEM | sz,
                      o.BPF_STX | o.BPF_MEM | sz, o.BPF_STX | o.BPF_ATOMIC | sz})
    return frozenset(codes)


OPCODES = _opcode_table()


def is_ldimm64(i: Insn) -> bool:
    return i.code == o.LD_IMM64_CODE


def jump_target(insns: list[Insn], t: int) -> int | None:
    """Target of the jump at t (None for non-jumps, calls and exit)."""
    i = insns[t]
    cl = i.code & 7
    if cl not in (o.BPF_JMP, o.BPF_JMP32):
        return None
    opc = i.code & 0xF0
    if opc in (o.BPF_CALL, o.BPF_EXIT):
        return None
    if opc == o.BPF_JA and cl == o.BPF_JMP32:
        return t + i.imm + 1
    return t + i.off + 1


def successors(insns: list[Insn], t: int) -> list[int]:
    i = insns[t]
    code, cl = i.code, i.code & 7
    if is_ldimm64(i):
        succ = [t + 2]
        if i.src == 4:                               # BPF_PSEUDO_FUNC
            succ.append(t + i.imm + 1)
        return succ
    if cl in (o.BPF_JMP, o.BPF_JMP32):
        opc = code & 0xF0
        if opc == o.BPF_EXIT:
            return []
        if opc == o.BPF_CALL:
            return [t + 1, t + i.imm + 1] if i.src == o.BPF_PSEUDO_CALL else [t + 1]
        tgt = jump_target(insns, t)
        if opc == o.BPF_JA:
            return [tgt]
        return [t + 1, tgt]
    return [t + 1]


def check_opcodes(insns: list[Insn]) -> None:
    """The resolve_pseudo_ldimm64 pass: opcodes, LDX modes, whole ld_imm64 pairs."""
    n, t = len(insns), 0
    while t < n:
        i = insns[t]
        if i.code not in OPCODES:
            raise CfgError(errno.EINVAL, f"unknown opcode {i.code:02x}")
        if i.code & 7 == o.BPF_LDX and (i.code & 0xE0 not in (o.BPF_MEM, o.BPF_MEMSX) or i.imm):
            raise CfgError(errno.EINVAL, "BPF_LDX uses reserved fields")
        if is_ldimm64(i):
            nx = insns[t + 1] if t + 1 < n else None
            if nx is None or nx.code or nx.dst or nx.src or nx.off:
                raise CfgError(errno.EINVAL, "invalid bpf_ld_imm64 insn")
            t += 2
            continue
        t += 1


def find_subprogs(insns: list[Insn]) -> list[int]:
    """add_subprog: insn 0 plus every bpf-to-bpf call and callback target, sorted."""
    starts = {0}
    n = len(insns)
    for t, i in enumerate(insns):
        tgt = None
        if i.code == (o.BPF_JMP | o.BPF_CALL) and i.src == o.BPF_PSEUDO_CALL:
            tgt = t + i.imm + 1
        elif is_ldimm64(i) and i.src == 4 and t not in _second_slots(insns):
            tgt = t + i.imm + 1
        if tgt is not None:
            if not 0 <= tgt < n:
                raise CfgError(errno.EINVAL, "call to invalid destination")
            starts.add(tgt)
    return sorted(starts)


def check_subprogs(insns: list[Insn], starts: list[int]) -> None:
    n = len(insns)
    seconds = _second_slots(insns)
    bounds = starts + [n]
    for k in range(len(starts)):
        lo, hi = bounds[k], bounds[k + 1]
        for t in range(lo, hi):
            tgt = jump_target(insns, t)
            if tgt is not None and t not in seconds:
                if not lo <= tgt < hi:
                    raise CfgError(errno.EINVAL, f"jump out of range from insn {t} to {tgt}")
        last = insns[hi - 1]
        if last.code not in (o.BPF_JMP | o.BPF_EXIT, o.BPF_JMP | o.BPF_JA, o.BPF_JMP32 | o.BPF_JA) \
                or hi - 1 in seconds:
            raise CfgError(errno.EINVAL, "last insn is not an exit or jmp")


_cache: dict[int, tuple[list, frozenset]] = {}


def _second_slots(insns: list[Insn]) -> frozenset:
    key = id(insns)
    hit = _cache.get(key)
    if hit is not None and hit[0] is insns:
        return hit[1]
    out, t = set(), 0
    while t < len(insns):
        if is_ldimm64(insns[t]):
            out.add(t + 1)
            t += 2
        else:
            t += 1
    res = frozenset(out)
    _cache.clear()
    _cache[key] = (insns, res)
    return res


def check_cfg(insns: list[Insn], *, bpf_capable: bool = True) -> set[int]:
    """Depth-first walk; returns the prune points (mark_prune_point)."""
    n = len(insns)
    state = [0] * n                 # 0 unseen, 1 on stack, 2 explored
    prune: set[int] = set()
    seconds = _second_slots(insns)
    stack = [(0, iter(successors(insns, 0)))]
    state[0] = 1
    _mark(insns, 0, prune)
    while stack:
        t, it = stack[-1]
        for w in it:
            if not 0 <= w < n:
                raise CfgError(errno.EINVAL, f"jump out of range from insn {t} to {w}")
            if state[w] == 0:
                state[w] = 1
                _mark(insns, w, prune)
                stack.append((w, iter(successors(insns, w))))
                break
            if state[w] == 1 and not bpf_capable:
                raise CfgError(errno.EINVAL, f"back-edge from insn {t} to {w}")
        else:
            state[t] = 2
            stack.pop()
    t = 0
    while t < n:
        if state[t] != 2:
            raise CfgError(errno.EINVAL, f"unreachable insn {t}")
        if is_ldimm64(insns[t]):
            if state[t + 1] != 0:
                raise CfgError(errno.EINVAL, f"jump into the middle of ldimm64 insn {t}")
            t += 2
        else:
            t += 1
    del seconds
    return prune


def _mark(insns: list[Insn], t: int, prune: set[int]) -> None:
    i = insns[t]
    cl = i.code & 7
    if cl in (o.BPF_JMP, o.BPF_JMP32):
        opc = i.code & 0xF0
        if opc == o.BPF_CALL:
            prune.add(t + 1)
            if i.src == o.BPF_PSEUDO_CALL:
                prune.add(t)
                prune.add(t + i.imm + 1)
        elif opc == o.BPF_JA:
            tgt = jump_target(insns, t)
            prune.add(tgt)
        elif opc != o.BPF_EXIT:
            prune.add(t)
            prune.add(jump_target(insns, t))
    elif is_ldimm64(i) and i.src == 4:
        prune.add(t + 2)


CALLER_SAVED = 0b111111      # r0..r5
ARGS = 0b111110              # r1..r5


def _use_def(i: Insn, nargs) -> tuple[int, int]:
    cl, code = i.code & 7, i.code
    d, s = 1 << i.dst, 1 << i.src
    x = code & 0x08
    if cl in (o.BPF_ALU, o.BPF_ALU64):
        opc = code & 0xF0
        if opc == o.BPF_MOV:
            return (s if x else 0), d
        if opc in (o.BPF_NEG, o.BPF_END):
            return d, d
        return d | (s if x else 0), d
    if cl == o.BPF_LDX:
        return s, d
    if cl == o.BPF_ST:
        return d, 0
    if cl == o.BPF_STX:
        if code & 0xE0 == o.BPF_ATOMIC:
            if i.imm == o.BPF_CMPXCHG:
                return d | s | 1, 1
            if i.imm & o.BPF_FETCH or i.imm == o.BPF_LOAD_ACQ:
                return d | s, s
        return d | s, 0
    if cl == o.BPF_LD:
        if is_ldimm64(i):
            return 0, d
        return 0x3FF, CALLER_SAVED          # may end the program: everything counts as used
    opc = code & 0xF0
    if opc == o.BPF_EXIT:
        return 1, 0
    if opc == o.BPF_CALL:
        if i.src == 0 and nargs is not None:
            k = nargs(i.imm)
            if k is not None:
                return ((1 << (k + 1)) - 2), CALLER_SAVED
        return ARGS, CALLER_SAVED
    if opc in (o.BPF_JA, o.BPF_JCOND):
        return 0, 0
    return d | (s if x else 0), 0


def live_registers(insns: list[Insn], nargs=None) -> list[int]:
    """Registers live before each insn (bitmask of r0..r9), by backward dataflow."""
    n = len(insns)
    seconds = _second_slots(insns)
    ud = [(0, 0) if t in seconds else _use_def(insns[t], nargs) for t in range(n)]
    succ = [[] if t in seconds else [w for w in successors(insns, t) if 0 <= w < n]
            for t in range(n)]
    # bpf-to-bpf calls: the callee is analysed on its own; treat the call as uses r1-r5
    for t in range(n):
        i = insns[t]
        if i.code == (o.BPF_JMP | o.BPF_CALL) and i.src == o.BPF_PSEUDO_CALL:
            succ[t] = [t + 1] if t + 1 < n else []
        elif is_ldimm64(i) and i.src == 4:
            succ[t] = [t + 2] if t + 2 < n else []
    live_in = [0] * n
    changed = True
    while changed:
        changed = False
        for t in range(n - 1, -1, -1):
            if t in seconds:
                continue
            out = 0
            for w in succ[t]:
                out |= live_in[w]
            use, df = ud[t]
            new = (use | (out & ~df)) & 0x3FF
            if new != live_in[t]:
                live_in[t] = new
                changed = True
    return live_in


def fmt_live(mask: int) -> str:
    return "".join(str(j) if (mask >> j) & 1 else "." for j in range(10))
