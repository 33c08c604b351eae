"""The instruction patcher and the percpu-mov fixup (upstream-spec §3.5)."""

from __future__ import annotations

import errno

import pytest

from harness.isa import Insn
from harness.kernel.fixups import Xlated, convert_ctx_accesses, do_misc_fixups, is_percpu_mov, mov64_percpu_reg, patch_insn
from harness.kernel.progload import InsnAux
from harness.kernelapi import BpfError
from harness.uapi import BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, MapType

EXIT = Insn(0x95)
MOV0 = Insn(0xB7, 0, 0, 0, 0)


def ja(off):
    return Insn(0x05, 0, 0, off, 0)


def jeq(off):
    return Insn(0x15, 1, 0, off, 0)


def xl(insns, **kw):
    return Xlated(list(insns), [InsnAux() for _ in insns], **kw)


@pytest.mark.parametrize("prog, pos, idx, expect_off", [
    # jump from before the patch over it grows by the delta
    ([jeq(2), MOV0, MOV0, EXIT], 1, 0, 4),
    # jump landing exactly on the patched slot keeps its target (the first new slot)
    ([jeq(0), MOV0, MOV0, EXIT], 1, 0, 0),
    # backward jump from after the patch to before it grows by the delta
    ([MOV0, MOV0, jeq(-3), EXIT], 1, 2, -5),
    # backward jump to the patched slot itself
    ([MOV0, MOV0, jeq(-2), EXIT], 1, 2, -4),
    # jumps entirely after the patch do not change
    ([MOV0, MOV0, jeq(0), EXIT], 0, 2, 0),
    # jumps entirely before it neither
    ([jeq(0), MOV0, MOV0, EXIT], 2, 0, 0),
])
def test_jump_offsets(prog, pos, idx, expect_off):
    x = xl(prog)
    patch_insn(x, pos, [prog[pos], MOV0, MOV0])
    new_idx = idx if idx <= pos else idx + 2
    assert x.insns[new_idx].off == expect_off
    assert len(x.insns) == len(prog) + 2 and len(x.aux) == len(x.insns)


def test_pseudo_call_gotol_and_pseudo_func_use_imm():
    call = Insn(0x85, 0, 1, 0, 3)            # call pc+3 -> slot 4
    gotol = Insn(0x06, 0, 0, 0, 2)           # gotol +2 -> slot 4
    func = Insn(0x18, 2, 4, 0, 1)            # r2 = &subprog at pc+1 (counted from slot 2) -> 4
    prog = [call, gotol, func, Insn(0), EXIT, EXIT]
    x = xl(prog, subprog_starts=[0, 4], func_info=[(0, 1), (4, 2)], line_info=[(0, 1, 1, 1), (4, 1, 2, 1)])
    patch_insn(x, 3, [Insn(0), MOV0])        # grow the second slot of the ld_imm64
    assert [x.insns[0].imm, x.insns[1].imm, x.insns[2].imm] == [4, 3, 2]
    assert x.subprog_starts == [0, 5]
    assert x.func_info == [(0, 1), (5, 2)]
    assert x.line_info == [(0, 1, 1, 1), (5, 1, 2, 1)]


def test_helper_calls_are_not_shifted():
    prog = [Insn(0x85, 0, 0, 0, 8), MOV0, EXIT]
    x = xl(prog)
    patch_insn(x, 1, [MOV0, MOV0])
    assert x.insns[0].imm == 8


class _Map:
    def __init__(self, map_type):
        self.map_type = map_type


def _ldimm(src, dst=1):
    return [Insn(0x18, dst, src, 0, 3), Insn(0, 0, 0, 0, 4)]


@pytest.mark.parametrize("map_type, src, feature, grows", [
    (MapType.PERCPU_ARRAY, BPF_PSEUDO_MAP_VALUE, True, True),
    (MapType.PERCPU_ARRAY, BPF_PSEUDO_MAP_VALUE, False, False),
    (MapType.ARRAY, BPF_PSEUDO_MAP_VALUE, True, False),
    (MapType.PERCPU_ARRAY, BPF_PSEUDO_MAP_FD, True, False),
])
def test_percpu_mov_inserted_after_percpu_value_loads(map_type, src, feature, grows):
    prog = [ja(2), *_ldimm(src, dst=3), Insn(0x61, 0, 3, 0, 0), EXIT]
    x = xl(prog)
    x.aux[1].map = _Map(map_type)
    do_misc_fixups(x, jit_percpu_insn=feature, jit_enabled=True)
    assert x.jit_required == grows
    if grows:
        assert x.insns[3] == mov64_percpu_reg(3, 3) and is_percpu_mov(x.insns[3])
        assert x.insns[3].encode() == bytes([0xBF, 0x33, 0xFF, 0xFF, 0, 0, 0, 0])
        assert x.insns[2] == prog[2]              # the second slot is kept, imm = offset
        assert x.insns[0].off == 3                # the jump over the load now skips the mov too
    else:
        assert x.insns == prog


def test_jit_required_without_jit():
    x = xl([*_ldimm(BPF_PSEUDO_MAP_VALUE), EXIT])
    x.aux[0].map = _Map(MapType.PERCPU_ARRAY)
    with pytest.raises(BpfError) as e:
        do_misc_fixups(x, jit_percpu_insn=True, jit_enabled=False)
    assert e.value.errno == errno.EINVAL
    assert e.value.message == "program requires BPF JIT compiler but it is not available"


def test_two_loads_both_patched():
    prog = [*_ldimm(BPF_PSEUDO_MAP_VALUE, 1), *_ldimm(BPF_PSEUDO_MAP_VALUE, 2), EXIT]
    x = xl(prog)
    x.aux[0].map = x.aux[2].map = _Map(MapType.PERCPU_ARRAY)
    do_misc_fixups(x, jit_percpu_insn=True, jit_enabled=True)
    assert [i for i, insn in enumerate(x.insns) if is_percpu_mov(insn)] == [2, 5]
    assert x.aux[3].map is not None and x.aux[0].map is not None


def ldxw(dst, src, off):
    return Insn(0x61, dst, src, off, 0)


PTRS = {76: 192, 80: 200}


@pytest.mark.parametrize("prog, converted", [
    # straight from r1
    ([ldxw(2, 1, 76), ldxw(3, 1, 80), MOV0, EXIT], [0, 1]),
    # through a copy, after r1 is clobbered by a call
    ([Insn(0xBF, 6, 1, 0, 0), Insn(0x85, 0, 0, 0, 7), ldxw(2, 6, 76), ldxw(3, 1, 76), MOV0, EXIT], [2]),
    # a non-pointer field is left alone
    ([ldxw(2, 1, 0), MOV0, EXIT], []),
    # after a join where only one path keeps the ctx in r2: not converted
    ([Insn(0xBF, 2, 1, 0, 0), jeq(1), Insn(0xB7, 2, 0, 0, 0), ldxw(3, 2, 76), MOV0, EXIT], []),
    # spilled to the stack and filled back
    ([Insn(0x7B, 10, 1, -8, 0), Insn(0x85, 0, 0, 0, 7), Insn(0x79, 4, 10, -8, 0), ldxw(2, 4, 76), MOV0, EXIT], [3]),
    # the spill slot overwritten before the fill: not converted
    ([Insn(0x7B, 10, 1, -8, 0), Insn(0x7A, 10, 0, -8, 0), Insn(0x79, 4, 10, -8, 0), ldxw(2, 4, 76), MOV0, EXIT],
     []),
    # after a join where both paths keep it: converted
    ([Insn(0xBF, 2, 1, 0, 0), jeq(1), Insn(0xB7, 3, 0, 0, 0), ldxw(3, 2, 76), MOV0, EXIT], [3]),
])
def test_convert_ctx_accesses(prog, converted):
    x = xl(prog)
    assert convert_ctx_accesses(x, PTRS) == len(converted)
    for i in converted:
        assert x.insns[i].code == 0x79 and x.insns[i].off == PTRS[prog[i].off]
