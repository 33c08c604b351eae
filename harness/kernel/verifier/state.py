"""Verifier state: call frames (registers + stack slots), acquired references, and the
comparisons state pruning needs (struct bpf_verifier_state / bpf_func_state).

Stack slots are 8 bytes each (spi = (-off - 1) // 8); every byte has a slot type like the
kernel's: INVALID (never written), SPILL (part of a spilled register), MISC (some scalar
bytes), ZERO (known zero).  Slots are immutable tuples `(types, spilled_reg)` so that a
state copy at a branch copies a list of references, not the slots themselves; code that
changes a spilled register replaces the slot with a fresh tuple and a copied Reg.
"""

from __future__ import annotations

from harness.kernel.verifier import tnum
from harness.kernel.verifier.regs import NOT_INIT, PTR_TO_STACK, SCALAR, PKT_TYPES, Reg

STACK_INVALID, STACK_SPILL, STACK_MISC, STACK_ZERO = 0, 1, 2, 3
SLOT_CHAR = "?rm0"
EMPTY_SLOT = ((STACK_INVALID,) * 8, None)
MAX_BPF_REG = 11


class Frame:
    __slots__ = ("regs", "stack", "frameno", "subprog", "callsite", "callback", "cb_kind")

    def __init__(self, frameno: int, subprog: int, callsite: int):
        self.regs = [Reg() for _ in range(MAX_BPF_REG)]
        self.stack: list = []          # index spi -> (types tuple of 8, spilled Reg | None)
        self.frameno = frameno
        self.subprog = subprog
        self.callsite = callsite       # insn index of the call that created this frame (-1 main)
        self.callback = None           # helper name when this frame is a callback
        self.cb_kind = ""

    def copy(self) -> "Frame":
        f = Frame.__new__(Frame)
        f.regs = [r.copy() for r in self.regs]
        f.stack = list(self.stack)
        f.frameno, f.subprog, f.callsite = self.frameno, self.subprog, self.callsite
        f.callback, f.cb_kind = self.callback, self.cb_kind
        return f

    @property
    def allocated_stack(self) -> int:
        return len(self.stack) * 8

    def grow(self, size: int) -> None:
        n = (size + 7) // 8
        if n > len(self.stack):
            self.stack.extend([EMPTY_SLOT] * (n - len(self.stack)))

    def fmt(self, print_all: bool, scratched_regs: set | None, scratched_stack: set | None) -> str:
        """print_verifier_state for one frame (without the trailing newline)."""
        out = []
        if self.frameno:
            out.append(f" frame{self.frameno}:")
        for i, r in enumerate(self.regs):
            if r.type == NOT_INIT:
                continue
            if not print_all and (scratched_regs is None or i not in scratched_regs):
                continue
            out.append(f" R{i}={r.fmt()}")
        for spi, (types, reg) in enumerate(self.stack):
            if not print_all and (scratched_stack is None or spi not in scratched_stack):
                continue
            off = -(spi + 1) * 8
            if types[0] == STACK_SPILL and reg is not None:
                out.append(f" fp{off}={'' if reg.type == SCALAR else ''}{reg.fmt()}")
                continue
            if all(t == STACK_INVALID for t in types):
                continue
            out.append(f" fp{off}={''.join(SLOT_CHAR[t] for t in types)}")
        return "".join(out)


class VState:
    """One path's state: frames (innermost last) and acquired references."""
    __slots__ = ("frames", "refs", "rec", "insn_idx", "lock")

    def __init__(self):
        self.frames: list[Frame] = []
        self.refs: list[tuple[int, int]] = []    # (ref id, insn that acquired it)
        self.rec = None                          # nearest recorded ancestor (StateRecord)
        self.insn_idx = 0
        self.lock = 0                            # held bpf_spin_lock: id() of its map, or 0

    @property
    def cur(self) -> Frame:
        return self.frames[-1]

    def copy(self) -> "VState":
        s = VState.__new__(VState)
        s.frames = [f.copy() for f in self.frames]
        s.refs = list(self.refs)
        s.rec = self.rec
        s.insn_idx = self.insn_idx
        s.lock = self.lock
        return s

    def all_regs(self):
        """Every register and spilled register of every frame (for id-based updates)."""
        for f in self.frames:
            yield from f.regs
            for spi, (types, reg) in enumerate(f.stack):
                if reg is not None:
                    yield reg


class StateRecord:
    """An explored state kept at a prune point (bpf_verifier_state_list).  While
    `branches` > 0 some path below it is still being explored; `key` is its exact-state
    key (for the infinite-loop test) and `idx` the instruction it was recorded at."""
    __slots__ = ("state", "parent", "branches", "hit", "miss", "key", "idx")

    def __init__(self, state: VState, parent, idx: int, key):
        self.state = state
        self.parent = parent
        self.branches = 1
        self.hit = 0
        self.miss = 0
        self.key = key
        self.idx = idx


def state_key(st: VState):
    """A hashable exact image of a state (equal keys <=> states_identical)."""
    out = []
    for f in st.frames:
        out.append(f.callsite)
        out.extend(_reg_key(r) for r in f.regs)
        for types, reg in f.stack:
            out.append(types)
            out.append(None if reg is None else _reg_key(reg))
        out.append(-1)
    out.append(len(st.refs))
    out.append(st.lock)
    return tuple(out)


# --- comparisons --------------------------------------------------------------------------

def _check_ids(old_id: int, cur_id: int, idmap: dict) -> bool:
    if not old_id and not cur_id:
        return True
    if not old_id or not cur_id:
        return False
    seen = idmap.get(old_id)
    if seen is None:
        idmap[old_id] = cur_id
        return True
    return seen == cur_id


def _range_within(o: Reg, c: Reg) -> bool:
    return (o.umin <= c.umin and c.umax <= o.umax and o.smin <= c.smin and c.smax <= o.smax
            and o.u32min <= c.u32min and c.u32max <= o.u32max and o.s32min <= c.s32min
            and c.s32max <= o.s32max)


def regsafe(o: Reg, c: Reg, idmap: dict) -> bool:
    """Is every behaviour `c` can show covered by the explored `o`?"""
    if o.type == NOT_INIT:
        return True
    if c.type != o.type:
        return False
    if o.type == SCALAR:
        if o.id and not _check_ids(o.id, c.id, idmap):
            return False
        return _range_within(o, c) and tnum.contains(o.var, c.var)
    if o.flags != c.flags or o.off != c.off or o.map is not c.map or o.mem_size != c.mem_size:
        return False
    if o.type == PTR_TO_STACK and o.frameno != c.frameno:
        return False
    if o.type in PKT_TYPES and c.range < o.range:
        return False
    if not _check_ids(o.id, c.id, idmap) or not _check_ids(o.ref_obj_id, c.ref_obj_id, idmap):
        return False
    if o.subprog != c.subprog:
        return False
    return _range_within(o, c) and tnum.contains(o.var, c.var)


def _stack_safe(o: Frame, c: Frame, idmap: dict) -> bool:
    for spi, (otypes, oreg) in enumerate(o.stack):
        ctypes_, creg = c.stack[spi] if spi < len(c.stack) else EMPTY_SLOT
        if otypes[0] == STACK_SPILL and oreg is not None:
            if ctypes_[0] != STACK_SPILL or creg is None or not regsafe(oreg, creg, idmap):
                # a spilled unbounded scalar in `o` also covers misc bytes in `c`
                if not (oreg.type == SCALAR and oreg.var == tnum.UNKNOWN and not oreg.id
                        and all(t in (STACK_MISC, STACK_ZERO, STACK_SPILL) for t in ctypes_)
                        and (creg is None or creg.type == SCALAR)):
                    return False
            continue
        for ot, ct in zip(otypes, ctypes_):
            if ot == STACK_INVALID:
                continue
            if ot == STACK_MISC:
                if ct == STACK_INVALID:
                    return False
                if ct == STACK_SPILL and creg is not None and creg.type != SCALAR:
                    return False
                continue
            if ot == STACK_ZERO:
                if ct == STACK_ZERO:
                    continue
                if ct == STACK_SPILL and creg is not None and creg.type == SCALAR \
                        and creg.var == (0, 0):
                    continue
                return False
    return True


def states_equal(old: VState, cur: VState, live: int, precise: int = -1) -> bool:
    """old covers cur.  `live` is the bitmask of registers live in the innermost frame,
    `precise` those whose scalar value matters (others: any scalar matches any scalar)."""
    if len(old.frames) != len(cur.frames):
        return False
    if [r[0] for r in old.refs] and len(old.refs) != len(cur.refs):
        return False
    if len(old.refs) != len(cur.refs) or old.lock != cur.lock:
        return False
    idmap: dict = {}
    last = len(old.frames) - 1
    for n, (fo, fc) in enumerate(zip(old.frames, cur.frames)):
        if fo.callsite != fc.callsite or fo.subprog != fc.subprog:
            return False
        for i in range(MAX_BPF_REG):
            if n == last:
                if not (live >> i) & 1:
                    continue
                ro, rc = fo.regs[i], fc.regs[i]
                if not (precise >> i) & 1 and ro.type == SCALAR and rc.type == SCALAR:
                    continue
            if not regsafe(fo.regs[i], fc.regs[i], idmap):
                return False
        if not _stack_safe(fo, fc, idmap):
            return False
    for (oid, _), (cid, _) in zip(old.refs, cur.refs):
        if not _check_ids(oid, cid, idmap):
            return False
    return True


def _reg_key(r: Reg):
    return (r.type, r.flags, r.off, r.var, r.smin, r.smax, r.umin, r.umax, r.s32min, r.s32max,
            r.u32min, r.u32max, r.id, r.ref_obj_id, id(r.map), r.range, r.mem_size, r.frameno,
            r.subprog)


def states_identical(a: VState, b: VState) -> bool:
    """Exact equality (the infinite-loop test against a state still being explored)."""
    if len(a.frames) != len(b.frames) or len(a.refs) != len(b.refs) or a.lock != b.lock:
        return False
    for fa, fb in zip(a.frames, b.frames):
        if fa.callsite != fb.callsite:
            return False
        for ra, rb in zip(fa.regs, fb.regs):
            if _reg_key(ra) != _reg_key(rb):
                return False
        n = max(len(fa.stack), len(fb.stack))
        for spi in range(n):
            sa = fa.stack[spi] if spi < len(fa.stack) else EMPTY_SLOT
            sb = fb.stack[spi] if spi < len(fb.stack) else EMPTY_SLOT
            if sa[0] != sb[0]:
                return False
            if (sa[1] is None) != (sb[1] is None):
                return False
            if sa[1] is not None and _reg_key(sa[1]) != _reg_key(sb[1]):
                return False
    return True
