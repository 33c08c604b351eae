"""patch_many / remove_many (harness/kernel/fixups.py) give what applying the kernel's
single patches and removals one at a time gives, on random programs with forward and
backward jumps, gotol, bpf-to-bpf calls, callback loads (aimed anywhere, patched slots
included) and patches that jump out."""

from __future__ import annotations

import random

import pytest

from harness.isa import Insn
from harness.kernel.fixups import Xlated, patch_insn, patch_many, remove_insns, remove_many
from harness.kernel.progload import InsnAux

MOV, EXIT = Insn(0xB7, 0, 0, 0, 1), Insn(0x95)


def _random_prog(rng: random.Random, n: int) -> list[Insn]:
    out: list[Insn] = []
    while len(out) < n - 1:
        i = len(out)
        kind = rng.randrange(6)
        if kind == 0:
            out.append(Insn(0x15, 1, 0, rng.randrange(-i, n - i - 1) if i else 0, 0))     # jeq, any direction
        elif kind == 1:
            out.append(Insn(0x06, 0, 0, 0, rng.randrange(-i, n - i - 1) if i else 0))     # gotol
        elif kind == 2:
            out.append(Insn(0x85, 0, 1, 0, rng.randrange(0, n - i - 1)))                # pseudo call
        elif kind == 3 and i < n - 3:
            out += [Insn(0x18, 2, 4, 0, rng.randrange(0, n - i - 2)), Insn(0)]           # callback load
        else:
            out.append(MOV)
    return out[:n - 1] + [EXIT]


def _xl(insns):
    return Xlated(list(insns), [InsnAux() for _ in insns], [0, len(insns) // 2], [], [])


def _patch_for(rng):
    """(before, after) slots around the patched slot: movs, sometimes a jump leaving the
    patch forwards."""
    extra = [MOV] * rng.randrange(1, 4)
    before, after = ([], extra) if rng.random() < 0.5 else (extra, [])
    if rng.random() < 0.3:
        before = [Insn(0x05, 0, 0, len(before) + len(after), 0), *before]      # to the slot after it
    return before, after


def _first_slots(insns):
    return [i for i in range(len(insns)) if not (i and insns[i - 1].code == 0x18)]


@pytest.mark.parametrize("seed", range(40))
def test_patch_many_equals_one_by_one(seed):
    rng = random.Random(seed)
    insns = _random_prog(rng, 40)
    # patched slots have no target of their own: no kernel rewrite moves a jump into a patch
    sites = sorted(rng.sample([i for i in _first_slots(insns) if insns[i] == MOV], 4))
    shapes = [(i, _patch_for(rng)) for i in sites]
    batched, single = _xl(insns), _xl(insns)
    patch_many(batched, [(i, [*before, insns[i], *after]) for i, (before, after) in shapes])
    for i, (before, after) in reversed(shapes):   # from the end, each around the slot as it is now
        patch_insn(single, i, [*before, single.insns[i], *after])
    assert batched.insns == single.insns
    assert batched.subprog_starts == single.subprog_starts


@pytest.mark.parametrize("seed", range(40))
def test_remove_many_equals_run_by_run(seed):
    rng = random.Random(seed)
    insns = _random_prog(rng, 40)
    dead = sorted(rng.sample([i for i in _first_slots(insns) if insns[i].code != 0x18], 8))
    batched, single = _xl(insns), _xl(insns)
    remove_many(batched, dead)
    for i in reversed(dead):
        remove_insns(single, i, 1)
    assert batched.insns == single.insns
    assert batched.subprog_starts == single.subprog_starts
