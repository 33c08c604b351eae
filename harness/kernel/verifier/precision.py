"""Precision tracking (the kernel's mark_chain_precision / backtrack_insn).

A privileged verifier treats a scalar's exact value as irrelevant until something depends
on it: a conditional jump it decided, a pointer offset, a helper's size or constant map
key, a return value checked against a range.  At that moment it *backtracks*: it walks
the instructions of the current path backwards, from the use to where the value came from
(through register moves, ALU operands, stack spills and fills, linked registers), and
marks the registers and stack slots involved as precise in every checkpoint (recorded
state) the path went through.  State pruning (state.states_equal) then compares only the
precise scalars of an explored state; an imprecise one covers any scalar.

What the walk needs is the path: each VState keeps `hist`, one entry per instruction
processed since its last checkpoint: the index, or `(idx, stack, linked)` when the
instruction carries more: `stack` = (frameno, spi) when
the instruction spilled or filled a register through that stack slot (the kernel's
INSN_F_STACK_ACCESS), `linked` = the registers and slots sharing a scalar id at a
conditional jump whose ranges were narrowed together.  A checkpoint (StateRecord) keeps the
history that led to it, so the walk continues into `rec.state` and beyond.

Precision is never set in the current state (only checkpoints are compared against), like
6.18.  The walk logs the kernel's `mark_precise:` lines at log level 2.  Anything the walk
cannot follow falls back, as the kernel does, to marking every scalar of every checkpoint on
the path precise (always safe: less pruning).
"""

from __future__ import annotations

from harness.isa import opcodes as o
from harness.kernel.helpers.ids import FUNC_NAMES
from harness.kernel.verifier.cfg import ARGS
from harness.kernel.verifier.regs import SCALAR
from harness.kernel.verifier.state import EMPTY_SLOT, STACK_SPILL, VState
from harness.kernel.verifier.vlog import LEVEL2

MAX_FRAMES = 8
#: helpers that call a BPF callback synchronously (is_sync_callback_calling_function)
SYNC_CALLBACK_HELPERS = frozenset(i for i, n in FUNC_NAMES.items()
                                  if n in ("loop", "for_each_map_elem", "find_vma", "user_ringbuf_drain"))


class Fallback(Exception):
    """The walk met something it cannot follow (the kernel's -ENOTSUPP and bug paths)."""


class Backtrack:
    """Registers and stack slots still to be explained, per call frame (struct backtrack_state)."""
    __slots__ = ("frame", "regs", "stack")

    def __init__(self, frame: int):
        self.frame = frame
        self.regs = [0] * MAX_FRAMES
        self.stack = [0] * MAX_FRAMES

    def empty(self) -> bool:
        return not any(self.regs) and not any(self.stack)


def _bits(mask: int):
    i = 0
    while mask:
        if mask & 1:
            yield i
        mask >>= 1
        i += 1


def fmt_regs(mask: int) -> str:
    return ",".join(f"r{i}" for i in _bits(mask))


def fmt_stack(mask: int) -> str:
    return ",".join(str(-(i + 1) * 8) for i in _bits(mask))


class PrecisionChecks:
    """Mixin of the Verifier."""

    # --- recording the path ----------------------------------------------------------------
    def hist_stack(self, frameno: int, spi: int) -> None:
        """The instruction being processed spilled to / filled from stack slot `spi`."""
        h = self.st.hist
        if h:
            e = h[-1]
            h[-1] = (e, (frameno, spi), None) if e.__class__ is int else (e[0], (frameno, spi), e[2])

    def hist_linked(self, ids: list[int]) -> None:
        """collect_linked_regs at an undecided conditional jump: every register and spilled
        scalar sharing one of `ids` (the kernel records them only when there are two or more)."""
        out = []
        want = set(i for i in ids if i)
        if not want:
            return
        for fr, f in enumerate(self.st.frames):
            live = self.frame_live(self.st, fr)
            for n, r in enumerate(f.regs):
                if r.type == SCALAR and r.id in want and live >> n & 1:
                    out.append((fr, False, n))
            for spi, (types, r) in enumerate(f.stack):
                if r is not None and types[7] == STACK_SPILL and r.type == SCALAR and r.id in want:
                    out.append((fr, True, spi))
        if len(out) > 1:
            h = self.st.hist
            e = h[-1]
            h[-1] = (e, None, tuple(out)) if e.__class__ is int else (e[0], e[1], tuple(out))

    # --- demands -------------------------------------------------------------------------
    def mark_precise(self, regno: int) -> None:
        """mark_chain_precision for a register of the innermost frame, at the instruction
        being processed."""
        if not self.privileged:
            return
        st = self.st
        if st.cur.regs[regno].type != SCALAR:
            return
        bt = Backtrack(len(st.frames) - 1)
        bt.regs[bt.frame] = 1 << regno
        self._chain(bt, skip_current=True)

    def mark_precise_slot(self, frameno: int, spi: int) -> None:
        """The same for a spilled scalar (a constant map key read from the stack)."""
        if not self.privileged:
            return
        bt = Backtrack(len(self.st.frames) - 1)
        bt.stack[frameno] = 1 << spi
        self._chain(bt, skip_current=True)

    def propagate_precision(self, old: VState) -> None:
        """The current path was pruned against `old`: whatever `old` needed precisely, the
        current path needs too (its checkpoints must not be pruned more loosely)."""
        if not self.privileged:
            return
        bt = Backtrack(len(self.st.frames) - 1)
        log2 = self.log.enabled and self.log.level & LEVEL2
        for fr in range(len(old.frames) - 1, -1, -1):
            f = old.frames[fr]
            names = []
            for i in range(10):
                r = f.regs[i]
                if r.type == SCALAR and r.precise:
                    bt.regs[fr] |= 1 << i
                    names.append(f"r{i}")
            for spi, (types, r) in enumerate(f.stack):
                if r is not None and types[7] == STACK_SPILL and r.type == SCALAR and r.precise:
                    bt.stack[fr] |= 1 << spi
                    names.append(f"fp{-(spi + 1) * 8}")
            if names and log2:
                self.log.write(f"frame {fr}: propagating {','.join(names)}\n")
        if not bt.empty():
            self._chain(bt, skip_current=False)

    def bt_relevant(self) -> list:
        """Per instruction, the registers whose being wanted makes backtrack_insn do
        anything (None: always look, calls and exits switch frames).  Most steps of a walk
        pass instructions that touch none of them."""
        rel = getattr(self, "_bt_rel", None)
        if rel is None:
            rel = self._bt_rel = [_relevant(i) for i in self.insns]
        return rel

    # --- the walk ------------------------------------------------------------------------
    def _chain(self, bt: Backtrack, skip_current: bool) -> None:
        st = self.st
        log2 = self.log.enabled and self.log.level & LEVEL2
        entries = st.hist[:-1] if skip_current else st.hist
        last_idx = st.insn_idx
        start = self.subprogs[self.verifying]        # where this verification began
        first_idx = st.rec.idx if st.rec is not None else start
        subseq = -1
        state = st
        try:
            while True:
                if log2:
                    self.log.write(f"mark_precise: frame{bt.frame}: last_idx {last_idx} "
                                   f"first_idx {first_idx} subseq_idx {subseq} \n")
                if subseq < 0:
                    subseq = last_idx           # the walk starts after the current insn
                relevant = self.bt_relevant()
                regs = bt.regs
                want = regs[bt.frame]
                for e in reversed(entries):
                    if e.__class__ is int:
                        if not log2:
                            k = relevant[e]
                            if k is not None and not want & k:
                                subseq = e          # cannot change what is wanted
                                continue
                        idx, stack, linked = e, None, None
                    else:
                        idx, stack, linked = e
                        if not log2 and linked is None:
                            k = relevant[idx]
                            if k is not None and not want & k and (
                                    stack is None or not bt.stack[stack[0]] >> stack[1] & 1):
                                subseq = idx
                                continue
                    self._bt_insn(idx, stack, linked, subseq, bt, log2)
                    want = regs[bt.frame]
                    if not want and bt.empty():
                        return
                    subseq = idx
                rec = state.rec
                if rec is None:
                    break
                parent = rec.state
                self._mark_in(parent, bt, log2)
                if bt.empty():
                    return
                subseq = first_idx
                entries = parent.hist
                last = entries[-1] if entries else first_idx
                last_idx = last if last.__class__ is int else last[0]
                first_idx = parent.rec.idx if parent.rec is not None else start
                state = parent
            raise Fallback                      # marks left at the program's start
        except Fallback:
            self._mark_all_precise(log2)

    def _mark_in(self, parent: VState, bt: Backtrack, log2: bool) -> None:
        """Set the marks in a checkpoint; marks it already had need no further walk."""
        if bt.frame >= len(parent.frames):
            raise Fallback
        for fr in range(bt.frame, -1, -1):
            f = parent.frames[fr]
            mask = bt.regs[fr]
            for i in _bits(mask):
                r = f.regs[i]
                if r.type != SCALAR or r.precise:
                    mask &= ~(1 << i)
                else:
                    r.precise = True
            bt.regs[fr] = mask
            smask = bt.stack[fr]
            for spi in _bits(smask):
                types, r = f.stack[spi] if spi < len(f.stack) else EMPTY_SLOT
                if r is None or types[7] != STACK_SPILL or r.type != SCALAR or r.precise:
                    smask &= ~(1 << spi)
                    continue
                r = r.copy()                     # slots are shared between state copies
                r.precise = True
                f.stack[spi] = (types, r)
            bt.stack[fr] = smask
            if log2:
                text = f.fmt(True, None, None)
                if parent.refs and fr == len(parent.frames) - 1:
                    text += " refs=" + ",".join(str(x[0]) for x in parent.refs)
                self.log.write(f"mark_precise: frame{fr}: parent state regs={fmt_regs(mask)} "
                               f"stack={fmt_stack(smask)}: {text}\n")

    def _mark_all_precise(self, log2: bool) -> None:
        """mark_all_scalars_precise: every scalar of every checkpoint on this path."""
        if log2:
            self.log.write(f"mark_precise: frame{len(self.st.frames) - 1}: falling back to "
                           f"forcing all scalars precise\n")
        rec = self.st.rec
        while rec is not None:
            for fr, f in enumerate(rec.state.frames):
                for i in range(10):
                    r = f.regs[i]
                    if r.type == SCALAR and not r.precise:
                        r.precise = True
                        if log2:
                            self.log.write(f"force_precise: frame{fr}: forcing r{i} to be precise\n")
                for spi, (types, r) in enumerate(f.stack):
                    if r is not None and types[7] == STACK_SPILL and r.type == SCALAR and not r.precise:
                        r = r.copy()
                        r.precise = True
                        f.stack[spi] = (types, r)
                        if log2:
                            self.log.write(f"force_precise: frame{fr}: forcing fp{-(spi + 1) * 8} "
                                           f"to be precise\n")
            rec = rec.parent

    def _bt_insn(self, idx: int, stack, linked, subseq: int, bt: Backtrack, log2: bool) -> None:
        """backtrack_insn: what had to be precise before instruction idx, given what has
        to be precise after it."""
        insn = self.insns[idx]
        fr = bt.frame
        if log2:
            self.log.write(f"mark_precise: frame{fr}: regs={fmt_regs(bt.regs[fr])} "
                           f"stack={fmt_stack(bt.stack[fr])} before {idx}: {self.disasm(idx)}\n")
        if linked:
            _sync_linked(bt, linked)
        regs = bt.regs
        code = insn.code
        cl = code & 7
        d, s = insn.dst, insn.src
        dbit = 1 << d
        if cl in (o.BPF_ALU, o.BPF_ALU64):
            opc = code & 0xF0
            if regs[fr] & dbit and opc not in (o.BPF_END, o.BPF_NEG):
                if opc == o.BPF_MOV:
                    regs[fr] &= ~dbit
                if code & o.BPF_X and s != 10:
                    regs[fr] |= 1 << s
        elif cl == o.BPF_LDX or (cl == o.BPF_STX and (code & 0xE0) == o.BPF_ATOMIC
                                 and insn.imm == o.BPF_LOAD_ACQ):
            if regs[fr] & dbit:
                regs[fr] &= ~dbit
                if stack is not None:
                    bt.stack[stack[0]] |= 1 << stack[1]
        elif cl in (o.BPF_STX, o.BPF_ST):
            if regs[fr] & dbit:
                raise Fallback
            if stack is not None and bt.stack[stack[0]] >> stack[1] & 1:
                bt.stack[stack[0]] &= ~(1 << stack[1])
                if cl == o.BPF_STX:
                    regs[fr] |= 1 << s
        elif cl in (o.BPF_JMP, o.BPF_JMP32):
            opc = code & 0xF0
            if opc == o.BPF_CALL:
                if s == o.BPF_PSEUDO_CALL and subseq == idx + 1 and \
                        self.subprog_of.get(idx + insn.imm + 1) in self.globals:
                    # a global function was not entered: it only set R0
                    regs[fr] &= ~1
                    if regs[fr] & ARGS:
                        raise Fallback
                elif s == o.BPF_PSEUDO_CALL:
                    # back at the call: only arguments may still be wanted, in the caller
                    if regs[fr] & ~ARGS or bt.stack[fr] or fr == 0:
                        raise Fallback
                    regs[fr - 1] |= regs[fr]
                    regs[fr] = 0
                    bt.frame -= 1
                elif s == 0 and insn.imm in SYNC_CALLBACK_HELPERS and idx != subseq - 1:
                    # back at the helper that called the callback we walked through
                    if regs[fr] & ~ARGS or bt.stack[fr] or fr == 0:
                        raise Fallback
                    regs[fr] = 0
                    bt.frame -= 1
                else:
                    regs[fr] &= ~1
                    if regs[fr] & ARGS:
                        raise Fallback
            elif opc == o.BPF_EXIT:
                nxt = self.insns[subseq] if 0 <= subseq < len(self.insns) else None
                if nxt is not None and nxt.code == (o.BPF_JMP | o.BPF_CALL) and nxt.src == 0 \
                        and nxt.imm in SYNC_CALLBACK_HELPERS:
                    # a callback's exit, back at the helper that called it: the caller's
                    # registers there are the ones it had before the call, which this path
                    # does not lead to; 6.18 ends the walk here
                    for n in range(MAX_FRAMES):
                        regs[n] = 0
                        bt.stack[n] = 0
                    return
                if regs[fr] & ARGS or fr + 1 >= MAX_FRAMES:
                    raise Fallback
                prev = self.insns[subseq - 1] if subseq >= 1 else None
                r0 = bool(regs[fr] & 1) and prev is not None and \
                    prev.code == (o.BPF_JMP | o.BPF_CALL) and prev.src == o.BPF_PSEUDO_CALL
                regs[fr] &= ~1
                bt.frame += 1
                regs[bt.frame] = 1 if r0 else 0
                bt.stack[bt.frame] = 0
            elif opc in (o.BPF_JA, o.BPF_JCOND):
                pass
            elif code & o.BPF_X:
                if regs[fr] & (dbit | (1 << s)):
                    regs[fr] |= dbit | (1 << s)
        elif cl == o.BPF_LD:
            if regs[fr] & dbit:
                regs[fr] &= ~dbit
                if (code & 0xE0) in (o.BPF_ABS, o.BPF_IND):
                    raise Fallback
        if linked:
            _sync_linked(bt, linked)


def _relevant(insn) -> int | None:
    code = insn.code
    cl = code & 7
    d = 1 << (insn.dst & 15)
    if cl in (o.BPF_ALU, o.BPF_ALU64):
        opc = code & 0xF0
        if opc == o.BPF_MOV or (code & o.BPF_X and opc not in (o.BPF_END, o.BPF_NEG)):
            return d
        return 0                        # dst op= K, neg, bswap: the wanted dst stays wanted
    if cl in (o.BPF_JMP, o.BPF_JMP32):
        opc = code & 0xF0
        if opc in (o.BPF_CALL, o.BPF_EXIT):
            return None
        if opc in (o.BPF_JA, o.BPF_JCOND) or not code & o.BPF_X:
            return 0
        return d | 1 << (insn.src & 15)
    if cl == o.BPF_LD and (code & 0xE0) != o.BPF_IMM:
        return None
    return d


def _sync_linked(bt: Backtrack, linked) -> None:
    """bt_sync_linked_regs: registers narrowed together at a jump are precise together."""
    for fr, is_stack, n in linked:
        mask = bt.stack[fr] if is_stack else bt.regs[fr]
        if mask >> n & 1:
            break
    else:
        return
    for fr, is_stack, n in linked:
        if is_stack:
            bt.stack[fr] |= 1 << n
        else:
            bt.regs[fr] |= 1 << n
