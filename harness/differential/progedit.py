"""Editing a program without breaking its jumps: instructions as units with absolute targets.

Deleting (delta debugging) or inserting (the conformance wrapper's prologue and epilogue)
instructions shifts every relative jump that crosses the edit.  A `Unit` is one
instruction -- both slots of an ld_imm64 together -- whose jump or bpf-to-bpf call target
is kept as the *unit index* it points at; `encode_units` turns targets back into slot
offsets.  A jump whose target unit was deleted goes to the next surviving unit, so a
deletion never makes a program structurally worse than "this branch now skips less".
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.isa import opcodes as o
from harness.isa.insn import Insn


@dataclass(frozen=True)
class Unit:
    insns: tuple[Insn, ...]      # 1 slot, or 2 for ld_imm64
    target: int | None = None    # unit index a jump / local call goes to

    @property
    def first(self) -> Insn:
        return self.insns[0]


def _has_target(i: Insn) -> bool:
    return o.is_jump(i) or o.is_pseudo_call(i)


def _offset(i: Insn) -> int:
    return i.imm if o.is_pseudo_call(i) else o.jump_offset(i)


def to_units(insns: list[Insn]) -> list[Unit]:
    """Split slots into units; a target that is not the start of a unit (a jump into the
    middle of an ld_imm64, or out of the program) is clamped to the nearest unit."""
    starts, slot = [], 0
    while slot < len(insns):
        starts.append(slot)
        slot += 2 if o.is_ld_imm64(insns[slot]) and slot + 1 < len(insns) else 1
    unit_of = {s: u for u, s in enumerate(starts)}
    units = []
    for u, s in enumerate(starts):
        i = insns[s]
        width = 2 if o.is_ld_imm64(i) and s + 1 < len(insns) else 1
        target = None
        if _has_target(i):
            dest = max(0, s + 1 + _offset(i))
            target = unit_of.get(dest)
            if target is None:        # mid-ld_imm64 or past the end: the next unit start
                target = next((k for k, st in enumerate(starts) if st >= dest), len(starts))
        units.append(Unit(tuple(insns[s:s + width]), target))
    return units


def encode_units(units: list[Unit]) -> list[Insn]:
    """Units back to slots, jump offsets recomputed from unit targets."""
    starts, slot = [], 0
    for u in units:
        starts.append(slot)
        slot += len(u.insns)
    starts.append(slot)                       # "one past the end" for out-of-range targets
    out: list[Insn] = []
    for k, u in enumerate(units):
        first = u.first
        if u.target is not None:
            rel = starts[min(u.target, len(units))] - starts[k] - 1
            if o.is_pseudo_call(first) or first.code == (o.BPF_JMP32 | o.BPF_JA):
                first = first.replace(imm=rel)
            else:
                first = first.replace(off=max(-32768, min(32767, rel)))
        out.append(first)
        out.extend(u.insns[1:])
    return out


def delete(units: list[Unit], drop: set[int]) -> list[Unit]:
    """Units without the indices in `drop`; targets re-pointed at surviving units."""
    keep = [k for k in range(len(units)) if k not in drop]
    new_index, j = {}, 0
    for k in range(len(units) + 1):
        while j < len(keep) and keep[j] < k:
            j += 1
        new_index[k] = j                      # first surviving unit at or after k
    return [Unit(units[k].insns, None if units[k].target is None else new_index[min(units[k].target, len(units))])
            for k in keep]


def insert(units: list[Unit], at: int, new: list[Unit], *, redirect: bool = False) -> list[Unit]:
    """Insert `new` (whose targets are relative to `new` itself, or None) before unit `at`.
    Existing jumps to unit `at` keep going to the old instruction unless `redirect`."""
    n = len(new)

    def moved(t: int) -> int:
        return t + n if t > at or (t == at and not redirect) else t

    head = [Unit(u.insns, None if u.target is None else moved(u.target)) for u in units[:at]]
    tail = [Unit(u.insns, None if u.target is None else moved(u.target)) for u in units[at:]]
    mid = [Unit(u.insns, None if u.target is None else u.target + at) for u in new]
    return head + mid + tail


def slots(units: list[Unit]) -> int:
    return sum(len(u.insns) for u in units)
