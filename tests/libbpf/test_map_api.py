"""bpf_map__set_initial_value / initial_value / set_value_size rules (upstream-spec §4.8)
and the per-map setters, on a compiled object."""

from __future__ import annotations

import errno

import pytest

from harness.kernel.syscall import EmulatedKernel
from harness.kernelapi import BpfError
from harness.libbpf.object import Object

KCONFIG = {"CONFIG_HZ": "1", "CONFIG_BPF_SYSCALL": "y"}


@pytest.fixture
def obj(build):
    return Object.open(str(build("loader_features.c")), EmulatedKernel(), kconfig=KCONFIG,
                       obj_name="loader_features")


def test_initial_value_roundtrip(obj):
    m = obj.find_map_by_name(".data.custom")
    assert m.initial_value() == (7).to_bytes(4, "little")
    m.set_initial_value((9).to_bytes(4, "little"))
    assert m.initial_value() == (9).to_bytes(4, "little")
    with pytest.raises(BpfError) as ei:
        m.set_initial_value(bytes(8))
    assert ei.value.errno == errno.EINVAL
    obj.load()
    assert int.from_bytes(m.lookup(0), "little") == 9
    with pytest.raises(BpfError) as ei:
        m.set_initial_value(bytes(4))
    assert ei.value.errno == errno.EBUSY


def test_kconfig_and_user_maps_have_no_settable_image(obj):
    with pytest.raises(BpfError) as ei:
        obj.kconfig_map.set_initial_value(bytes(obj.kconfig_map.value_size))
    assert ei.value.errno == errno.EINVAL
    hmap = obj.find_map_by_name("hmap")
    assert hmap.initial_value() is None
    with pytest.raises(BpfError):
        hmap.set_initial_value(bytes(16))


def test_resize_last_var_not_array_clears_btf(obj):
    m = obj.find_map_by_name(".data.custom")
    m.set_value_size(64)
    assert m.value_size == 64 and len(m.initial_value()) == 64
    assert m.initial_value()[:4] == (7).to_bytes(4, "little")          # min(old, new) bytes kept
    assert m.btf_value_type_id == 0
    assert any("cannot be resized, last var must be an array" in line for line in obj.log)


def test_resize_array_tail_keeps_btf(obj):
    bss = next(m for m in obj.maps if m.name.endswith(".bss"))      # last var: __u64 kcfg_seen[4]
    old = bss.btf_value_type_id
    bss.set_value_size(64)
    assert bss.btf_value_type_id == old
    vars_ = obj.btf.datasec_vars(old)
    assert vars_[-1][1] == "kcfg_seen" and vars_[-1][3] == 64 - vars_[-1][2]
    obj.load()
    assert len(bss.lookup(0)) == 64


def test_resize_only_arrays_with_image(obj):
    m = obj.find_map_by_name(".data.custom")
    m.set_type(1)                                   # HASH with an image: not resizable
    with pytest.raises(BpfError) as ei:
        m.set_value_size(8)
    assert ei.value.errno == errno.EOPNOTSUPP


def test_setters_after_load(obj):
    obj.load()
    hmap = obj.find_map_by_name("hmap")
    for call in (lambda: hmap.set_value_size(32), lambda: hmap.set_max_entries(1), lambda: hmap.set_type(2)):
        with pytest.raises(BpfError) as ei:
            call()
        assert ei.value.errno == errno.EBUSY


def test_find_map_by_name_rules(obj):
    rodata = next(m for m in obj.maps if m.name.endswith(".rodata"))
    assert obj.find_map_by_name(".rodata") is rodata                 # '.' queries use the real name
    assert obj.find_map_by_name("loader_f.rodata") is rodata         # else the user-visible name
    assert obj.find_map_by_name(".data.custom").user_name == ".data.custom"
    assert obj.find_map_by_name("nope") is None
