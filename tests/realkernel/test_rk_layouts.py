"""attrs.py layouts: sizes from running-kernel.md, and check_layouts() against BTF."""

import ctypes
import os

import pytest

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf, Type
from harness.realkernel import attrs
from harness.realkernel.layouts import VMLINUX_BTF, check_layouts, check_running_kernel


@pytest.mark.parametrize("cls, size", [
    (attrs.AttrMapCreate, 96), (attrs.AttrMapElem, 32), (attrs.AttrMapBatch, 56),
    (attrs.AttrProgLoad, attrs.BPF_ATTR_SIZE), (attrs.AttrTestRun, 80), (attrs.AttrBtfLoad, 40),
    (attrs.AttrInfo, 16), (attrs.AttrLinkCreate, 64), (attrs.AttrIterCreate, 8),
    (attrs.AttrRawTracepoint, 24), (attrs.BpfProgInfo, 232), (attrs.BpfMapInfo, 104),
    (attrs.BpfFuncInfo, 8), (attrs.BpfLineInfo, 16), (attrs.BpfIterLinkInfo, 16),
])
def test_sizes(cls, size):
    assert ctypes.sizeof(cls) == size


@pytest.mark.parametrize("cls, field, offset", [
    # offsets running-kernel.md lists explicitly
    (attrs.AttrProgLoad, "log_true_size", 140), (attrs.AttrProgLoad, "fd_array", 120),
    (attrs.AttrProgLoad, "attach_btf_obj_fd", 112), (attrs.AttrMapCreate, "map_extra", 64),
    (attrs.AttrMapElem, "next_key", 16), (attrs.AttrTestRun, "cpu", 68),
    (attrs.AttrBtfLoad, "btf_log_true_size", 28), (attrs.BpfProgInfo, "verified_insns", 216),
    (attrs.BpfProgInfo, "xlated_prog_insns", 32), (attrs.AttrLinkCreate, "iter_info_len", 24),
])
def test_documented_offsets(cls, field, offset):
    assert attrs.flat_fields(cls)[field][0] == offset


def _toy_btf(fields):
    """A BTF with `struct bpf_func_info` laid out as [(name, byte offset)] of u32 members."""
    btf = Btf()
    u32 = btf.add_int("unsigned int", 4)
    members = [K.BtfMember(btf.add_string(n), u32, 8 * off) for n, off in fields]
    btf.add_type(Type(K.STRUCT, btf.add_string("bpf_func_info"), 8, members=members))
    return btf


@pytest.mark.parametrize("fields, expected", [
    ([("insn_off", 0), ("type_id", 4)], []),
    ([("type_id", 0), ("insn_off", 4)],
     [("insn_off", (0, 4), (4, 4)), ("type_id", (4, 4), (0, 4))]),
    ([("insn_off", 0)], [("type_id", (4, 4), None)]),
])
def test_check_layouts_reports_conflicts_and_missing_fields(fields, expected):
    found = [(m.field, m.ours, m.kernel) for m in check_layouts(_toy_btf(fields))
             if m.layout == "BpfFuncInfo"]
    assert sorted(found) == sorted(expected)


def test_conflicts_sort_first():
    found = check_layouts(_toy_btf([("type_id", 0)]))
    assert found[0].conflict and not found[-1].conflict


@pytest.mark.skipif(not os.path.exists(VMLINUX_BTF), reason=f"{VMLINUX_BTF} not present")
def test_running_kernel_btf_agrees():
    mismatches, why = check_running_kernel()
    assert why == ""
    assert [str(m) for m in mismatches if m.conflict] == []
