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
    __slots__ = ("regs", "stack", "frameno", "subprog", "callsite", "callback", "cb_kind",
                 "callback_depth")

    def __init__(self, frameno: int, subprog: int, callsite: int):
        self.regs = [Reg() for _ in range(MAX_BPF_REG)]
        self.stack: list = []          # index spi -> (types tuple of 8, spilled Reg | None)
        self.frameno = frameno
        self.subprog = subprog
        self.callsite = callsite       # insn index of the call that created this frame (-1 main)
        self.callback = None           # helper name when this frame is a callback
        self.cb_kind = ""
        self.callback_depth = 0        # callback iterations pushed from this frame

    def copy(self) -> "Frame":
        f = Frame.__new__(Frame)
        f.regs = [r.copy() for r in self.regs]
        f.stack = list(self.stack)
        f.frameno, f.subprog, f.callsite = self.frameno, self.subprog, self.callsite
        f.callback, f.cb_kind = self.callback, self.cb_kind
        f.callback_depth = self.callback_depth
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
            out.append(f" R{i}={r.fmt(self.frameno)}")
        for spi, (types, reg) in enumerate(self.stack):
            if not print_all and (scratched_stack is None or spi not in scratched_stack):
                continue
            off = -(spi + 1) * 8
            if all(t == STACK_INVALID for t in types):
                continue
            if types[7] == STACK_SPILL and reg is not None:
                # the bytes below a narrow spill print as slot types, then the register
                j = types.index(STACK_SPILL)
                out.append(f" fp{off}={''.join(SLOT_CHAR[t] for t in types[:j])}{reg.fmt(self.frameno)}")
                continue
            out.append(f" fp{off}={''.join(SLOT_CHAR[t] for t in types)}")
        if self.callback:
            out.append(" cb")
        return "".join(out)


class VState:
    """One path's state: frames (innermost last) and acquired references."""
    __slots__ = ("frames", "refs", "rec", "insn_idx", "lock", "hist", "may_goto_depth")

    def __init__(self):
        self.hist: list = []                     # the path since the last checkpoint (precision.py)
        self.may_goto_depth = 0                  # may_goto loop iterations on this path
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
        s.hist = list(self.hist)
        s.may_goto_depth = self.may_goto_depth
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
    __slots__ = ("state", "parent", "branches", "hit", "miss", "key", "idx", "seq", "quick",
                 "evicted", "backedges")

    def __init__(self, state: VState, parent, idx: int, key, seq: int = 0, quick=None):
        self.state = state
        self.parent = parent
        self.branches = 1
        self.hit = 0
        self.miss = 0
        self.key = key
        self.idx = idx
        self.seq = seq               # creation order: the kernel's list is newest first
        self.quick = quick
        self.evicted = False
        self.backedges = 0


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


# --- comparisons (states_equal / regsafe / stacksafe) --------------------------------------

class IdMap:
    """check_ids: the ids of the explored state must map one-to-one onto the current
    state's (pointer ids, reference ids and scalar ids share one map, as in the kernel).
    check_scalar_ids gives a scalar without an id a fresh temporary one, so that an
    unlinked scalar in one state cannot stand for a linked one in the other."""
    __slots__ = ("old", "cur", "tmp")

    def __init__(self):
        self.old: dict[int, int] = {}
        self.cur: dict[int, int] = {}
        self.tmp = 1 << 62

    def check(self, old_id: int, cur_id: int) -> bool:
        if not old_id and not cur_id:
            return True
        if not old_id or not cur_id:
            return False
        seen = self.old.get(old_id)
        if seen is not None:
            return seen == cur_id
        if cur_id in self.cur:
            return False
        self.old[old_id] = cur_id
        self.cur[cur_id] = old_id
        return True

    def check_scalar(self, old_id: int, cur_id: int) -> bool:
        if not old_id and not cur_id:
            return True
        if not old_id:
            self.tmp += 1
            old_id = self.tmp
        if not cur_id:
            self.tmp += 1
            cur_id = self.tmp
        return self.check(old_id, cur_id)


def _range_within(o: Reg, c: Reg) -> bool:
    return (o.umin <= c.umin and c.umax <= o.umax and o.smin <= c.smin and c.smax <= o.smax
            and o.u32min <= c.u32min and c.u32max <= o.u32max and o.s32min <= c.s32min
            and c.s32max <= o.s32max)


def regsafe(o: Reg, c: Reg, idmap: IdMap, all_precise: bool = False) -> bool:
    """Is every behaviour `c` can show covered by the explored `o`?  A scalar the explored
    state never needed precisely (no precision mark) covers any scalar; `all_precise` is
    the unprivileged verifier, for which every scalar is precise."""
    if o.type == NOT_INIT:
        return True
    if c.type != o.type:
        return False
    if o.type == SCALAR:
        if not o.precise and not all_precise:
            return True
        if o.link and (o.link != c.link or o.delta != c.delta):
            return False
        if not idmap.check_scalar(o.id | o.link << 40, c.id | c.link << 40):
            return False
        return _range_within(o, c) and tnum.contains(o.var, c.var)
    if o.flags != c.flags or o.off != c.off or o.map is not c.map or o.mem_size != c.mem_size:
        return False
    if o.type == PTR_TO_STACK and o.frameno != c.frameno:
        return False
    if o.type in PKT_TYPES and c.range < o.range:
        return False
    if not idmap.check(o.id, c.id) or not idmap.check(o.ref_obj_id, c.ref_obj_id):
        return False
    if o.subprog != c.subprog:
        return False
    return _range_within(o, c) and tnum.contains(o.var, c.var)


_UNBOUND = Reg()
_UNBOUND.mark_unknown()
_ALL_INVALID = (STACK_INVALID,) * 8


def _scalar_for_stack(slot, uninit_ok: bool):
    """scalar_reg_for_stack: a 64-bit spilled scalar is that register; eight misc bytes
    read as an unbound scalar; anything else is compared byte by byte."""
    types, reg = slot
    if types[0] == STACK_SPILL and reg is not None and reg.type == SCALAR:
        return reg
    if all(t == STACK_MISC or (t == STACK_INVALID and uninit_ok) for t in types):
        return _UNBOUND
    return None


def _stack_safe(o: Frame, c: Frame, idmap: IdMap, all_precise: bool, uninit_ok: bool) -> bool:
    """stacksafe: every byte of the explored stack that mattered must be matched.  With
    `uninit_ok` (a privileged verifier may read uninitialised stack) misc bytes in the
    explored state match anything."""
    nc = len(c.stack)
    cstack = c.stack
    for spi, oslot in enumerate(o.stack):
        otypes, oreg = oslot
        if otypes == _ALL_INVALID:
            continue
        cslot = cstack[spi] if spi < nc else None
        if cslot is oslot and (oreg is None or not oreg.id):
            continue                    # the same slot (state copies share them), no ids
        pair = None
        for b in range(8):
            ot = otypes[b]
            if ot == STACK_INVALID or (uninit_ok and ot == STACK_MISC):
                continue
            if cslot is None:
                return False
            if pair is None:
                pair = (_scalar_for_stack(oslot, uninit_ok), _scalar_for_stack(cslot, uninit_ok))
            if pair[0] is not None and pair[1] is not None:
                if not regsafe(pair[0], pair[1], idmap, all_precise):
                    return False
                break
            ct = cslot[0][b]
            if ot == STACK_MISC and ct == STACK_ZERO:
                continue
            if ot != ct:
                return False
            if b == 7 and ot == STACK_SPILL and not regsafe(oreg, cslot[1], idmap, all_precise):
                return False
    return True


def states_equal(old: VState, cur: VState, lives, all_precise: bool = False,
                 uninit_ok: bool = True) -> bool:
    """old covers cur.  `lives[n]` is the bitmask of registers live in frame n (the
    innermost at this instruction, the others at their call); precision comes from the
    explored state's marks (precision.py), or `all_precise` (unprivileged, or 6.18's
    RANGE_WITHIN comparison of a callback loop)."""
    if len(old.frames) != len(cur.frames):
        return False
    if len(old.refs) != len(cur.refs) or old.lock != cur.lock:
        return False
    idmap = IdMap()
    for n, (fo, fc) in enumerate(zip(old.frames, cur.frames)):
        if fo.callsite != fc.callsite or fo.subprog != fc.subprog:
            return False
        if fo.callback_depth > fc.callback_depth:
            return False
        live = lives[n] | (1 << 10)
        cregs = fc.regs
        for i, ro in enumerate(fo.regs):
            if not (live >> i) & 1:
                continue
            t = ro.type
            if t == NOT_INIT:
                continue
            rc = cregs[i]
            if t == SCALAR and rc.type == SCALAR and not ro.precise and not all_precise:
                continue                # the common case, without a call
            if not regsafe(ro, rc, idmap, all_precise):
                return False
        if not _stack_safe(fo, fc, idmap, all_precise, uninit_ok):
            return False
    for (oid, _), (cid, _) in zip(old.refs, cur.refs):
        if not idmap.check(oid, cid):
            return False
    return True


def _reg_key(r: Reg):
    return (r.type, r.flags, r.off, r.var, r.smin, r.smax, r.umin, r.umax, r.s32min, r.s32max,
            r.u32min, r.u32max, r.id, r.ref_obj_id, id(r.map), r.range, r.mem_size, r.frameno,
            r.subprog, r.link, r.delta)


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
