"""Loader features, each with a compiled object (tests/libbpf/data/*.c)."""

from __future__ import annotations

import re
import struct

import pytest

from harness.elf.object import BpfObject
from harness.kernel.core import ALL_FEATURES, KernelConfig
from harness.kernel.syscall import EmulatedKernel
from harness.kernelapi import BpfError
from harness.libbpf.object import Object, kernel_version
from harness.uapi import BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, MapType, ProgType

from libbpf_support import require_module, toolchain_names

KCONFIG = {"CONFIG_HZ": "250", "CONFIG_BPF_SYSCALL": "y"}


@pytest.fixture
def feat_obj(build):
    return build("loader_features.c")


def open_feat(path, **kw):
    kw.setdefault("kconfig", KCONFIG)
    kw.setdefault("obj_name", "loader_features")
    return Object.open(str(path), EmulatedKernel(), **kw)


def by_name(obj, name):
    m = obj.find_map_by_name(name)
    assert m is not None, name
    return m


def test_programs_and_subprograms(feat_obj):
    obj = open_feat(feat_obj)
    assert [p.name for p in obj.programs] == ["tail_target", "calls", "kconfig"]   # 3 in one section
    assert all(p.sec_name == "tc" and p.prog_type == ProgType.SCHED_CLS for p in obj.programs)
    subs = {p.name for p in obj.all_programs if p.is_subprog}
    assert subs == {"add_one", "global_twice", "loop_cb"}
    assert obj.license == "GPL"


@pytest.mark.parametrize("name,mtype,ks,vs,entries,flags", [
    ("inner_a", MapType.ARRAY, 4, 8, 2, 0),
    ("outer", MapType.ARRAY_OF_MAPS, 4, 4, 4, 0),
    ("hmap", MapType.HASH, 8, 16, 16, 1),
    ("pcpu", MapType.PERCPU_ARRAY, 4, 4, 3, 0),
    ("jmp_table", MapType.PROG_ARRAY, 4, 4, 2, 0),
])
def test_btf_defined_maps(feat_obj, name, mtype, ks, vs, entries, flags):
    m = by_name(open_feat(feat_obj), name)
    assert (m.type, m.key_size, m.value_size, m.max_entries, m.map_flags) == (mtype, ks, vs, entries, flags)
    assert not m.internal and m.name == m.user_name == name


def test_map_details(feat_obj):
    obj = open_feat(feat_obj)
    hmap = by_name(obj, "hmap")
    assert hmap.def_.pinning == 1 and hmap.btf_key_type_id and hmap.btf_value_type_id
    outer = by_name(obj, "outer")
    assert outer.inner is not None and outer.inner.type == MapType.ARRAY and outer.inner.value_size == 8
    assert outer.init_slots[2] is by_name(obj, "inner_a")
    jt = by_name(obj, "jmp_table")
    assert jt.init_slots[1] is obj.find_program_by_name("tail_target")


@pytest.mark.parametrize("name,user,flags", [
    (".data.custom", ".data.custom", BPF_F_MMAPABLE),
    ("loader_f.rodata", "loader_f.rodata", BPF_F_MMAPABLE | BPF_F_RDONLY_PROG),
    ("loader_f.bss", "loader_f.bss", BPF_F_MMAPABLE),
    ("loader_.kconfig", "loader_.kconfig", BPF_F_RDONLY_PROG),
])
def test_internal_maps(feat_obj, name, user, flags):
    obj = open_feat(feat_obj)
    m = next(m for m in obj.maps if m.name == name)
    assert m.user_name == user and m.map_flags & flags == flags and m.type == MapType.ARRAY


def test_internal_map_order(feat_obj):
    kinds = [m.name for m in open_feat(feat_obj).maps if m.internal]
    assert kinds[-1] == "loader_.kconfig"          # .kconfig comes after the data sections


def test_load_and_run_calls_callbacks_data(feat_obj):
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    obj = open_feat(feat_obj)
    obj.load()
    calls = obj.find_program_by_name("calls")
    assert calls.fd >= 0
    placed = [p.name for p, _ in calls.placed]
    assert placed[0] == "calls" and set(placed[1:]) == {"loop_cb", "global_twice", "add_one"}
    assert len(calls.func_info) == 4 and calls.func_info[0][0] == 0
    assert calls.line_info and all(a[0] < len(calls.final_insns) for a in calls.line_info)
    assert calls.test_run(data_in=bytes(64)).retval == 24
    rodata = next(m for m in obj.maps if m.name.endswith(".rodata"))
    with pytest.raises(BpfError):                  # frozen before program load
        obj.kernel.map_update_elem(rodata.fd, bytes(4), bytes(4), 0)


def test_static_slots_after_load(feat_obj):
    obj = open_feat(feat_obj)
    obj.load()
    k = obj.kernel
    outer, jt = by_name(obj, "outer"), by_name(obj, "jmp_table")
    assert int.from_bytes(outer.lookup_elem((2).to_bytes(4, "little")), "little") == \
        k.map_get_info(by_name(obj, "inner_a").fd).id
    assert int.from_bytes(jt.lookup_elem((1).to_bytes(4, "little")), "little") == \
        k.prog_get_info(obj.find_program_by_name("tail_target").fd).id
    with pytest.raises(BpfError):
        jt.lookup_elem((0).to_bytes(4, "little"))


def test_kconfig_values(feat_obj):
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    obj = open_feat(feat_obj)
    obj.load()
    assert obj.find_program_by_name("kconfig").test_run(data_in=bytes(64)).retval == 0
    bss = next(m for m in obj.maps if m.name.endswith(".bss"))
    seen = struct.unpack("<4Q", bss.lookup_elem(bytes(4)))
    assert seen == (250, 1, kernel_version(obj.kernel), 0)


def test_kconfig_from_config_text(feat_obj):
    obj = open_feat(feat_obj, kconfig="# comment\nCONFIG_HZ=1000\nCONFIG_BPF_SYSCALL=y\n")
    obj.load()
    img = obj.kernel.map_lookup_elem(obj.kconfig_map.fd, bytes(4), 0)
    assert int.from_bytes(img[:4], "little") == 1000


@pytest.mark.parametrize("kconfig,msg", [
    ({"CONFIG_BPF_SYSCALL": "y"}, "extern (kcfg) 'CONFIG_HZ': value not found"),
    ({"CONFIG_HZ": "x", "CONFIG_BPF_SYSCALL": "y"}, "isn't a valid integer"),
    ({"CONFIG_HZ": "1", "CONFIG_BPF_SYSCALL": "m"}, "isn't a valid bool"),
])
def test_kconfig_errors(feat_obj, kconfig, msg):
    obj = open_feat(feat_obj, kconfig=kconfig)
    with pytest.raises(BpfError, match=re.escape(msg)):
        obj.load()
    assert all(m.fd < 0 for m in obj.maps)         # everything released on failure


def test_legacy_maps_section_refused(build):
    with pytest.raises(BpfError) as ei:
        Object.open(str(build("legacy_maps.c")), EmulatedKernel())
    assert ei.value.message == "elf: legacy map definitions in 'maps' section are not supported by libbpf v1.0+"


def test_core_relocations(build):
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    from harness.libbpf.skeleton import Skeleton
    target = BpfObject.open(str(build("core_target.c"))).btf
    skel = Skeleton.open(str(build("core_local.c")), EmulatedKernel(), target_btf=target)
    skel.load()
    assert skel.progs.core.test_run(data_in=bytes(64)).retval == 0
    # start moved to 24, pid shrank to 2 bytes, 'gone' and struct absent_type do not exist
    vals = skel.bss.out.tolist()
    assert vals[:5] == [24, 2, 0, 0, 40]
    assert skel.obj.elf.btf.name_of(vals[5]) == "task"                # local id
    assert vals[6] == target.find("task", "STRUCT")                   # target id


def test_core_bitfields(build):
    """mid: int:7 moved to bit 37 -> 4-byte load at byte 4, shifts 52/57; hi -> lshift 32."""
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    from harness.libbpf.skeleton import Skeleton
    target = BpfObject.open(str(build("core_target.c"))).btf
    skel = Skeleton.open(str(build("core_local.c")), EmulatedKernel(), target_btf=target)
    skel.load()
    assert skel.progs.core_bitfields.test_run(data_in=bytes(64)).retval == 0
    assert skel.bss.bf_out.tolist() == [4, 4, 1, 52, 57, 32]


def test_core_without_target_btf_fails_like_libbpf(build, monkeypatch):
    import harness.libbpf.object as objmod
    monkeypatch.setattr(objmod, "default_target_btf", lambda: None)
    obj = Object.open(str(build("core_local.c")), EmulatedKernel())
    with pytest.raises(BpfError, match="failed to find valid kernel BTF"):
        obj.load()


def test_no_global_data_kernel(feat_obj):
    """Without FEAT_GLOBAL_DATA no internal map is created and users are poisoned."""
    obj = Object.open(str(feat_obj), EmulatedKernel(KernelConfig(features=ALL_FEATURES - {"global_data"})),
                      kconfig=KCONFIG)
    obj.load(keep_going=True)
    assert all(m.fd < 0 for m in obj.maps if m.internal)
    assert obj.find_program_by_name("calls").poisoned
    assert obj.find_program_by_name("tail_target").fd >= 0


def test_btf_sanitised_for_old_kernel(feat_obj):
    k = EmulatedKernel(KernelConfig(features=ALL_FEATURES - {"btf_datasec", "btf_decl_tag", "btf_type_tag"}))
    obj = Object.open(str(feat_obj), k, kconfig=KCONFIG)
    obj.load()
    assert obj.btf_fd >= 0
    assert obj.supports("btf_datasec") is False
    assert obj.find_program_by_name("calls").fd >= 0


def test_typed_ksyms(build):
    from harness.uapi import BPF_PSEUDO_BTF_ID
    target = BpfObject.open(str(build("ksyms_target.c"))).btf
    obj = Object.open(str(build("ksyms.c")), EmulatedKernel(), target_btf=target)
    assert set(obj.externs) == {"kernel_counter", "maybe_absent"}
    obj.load(keep_going=True)
    insns = obj.programs[0].final_insns
    btf_ids = [i for i in insns if i.code == 0x18 and i.src == BPF_PSEUDO_BTF_ID]
    assert [i.imm for i in btf_ids] == [target.find("kernel_counter", "VAR")]
    assert obj.externs["maybe_absent"].resolved is False      # weak: a NULL pointer


def test_missing_strong_ksym(build):
    target = BpfObject.open(str(build("core_target.c"))).btf
    obj = Object.open(str(build("ksyms.c")), EmulatedKernel(), target_btf=target)
    with pytest.raises(BpfError) as ei:
        obj.load()
    assert ei.value.message == "extern (var ksym) 'kernel_counter': not found in kernel BTF"


def test_core_adjusts_load_size(build):
    """pid is 4 bytes locally and 2 on the target: the LDX becomes a 2-byte load at the
    target offset (the kernel may then reject it: the global is laid out locally)."""
    target = BpfObject.open(str(build("core_target.c"))).btf
    obj = Object.open(str(build("core_local.c")), EmulatedKernel(), target_btf=target)
    p = obj.find_program_by_name("core_load")
    assert p.autoload is False                                      # SEC("?socket")
    p.set_autoload(True)
    obj.load(keep_going=True)
    before = [i for i in p.insns if i.code & 0x07 == 0x01]
    after = [i for i in p.final_insns if i.code & 0x07 == 0x01]
    assert [(i.code & 0x18, i.off) for i in before] == [(0x00, 0)]     # BPF_W at pid's local offset
    assert [(i.code & 0x18, i.off) for i in after] == [(0x08, 32)]     # BPF_H at the target's


@pytest.mark.parametrize("toolchain", toolchain_names())
def test_every_toolchain_links_and_relocates(build, toolchain):
    """The same object from every toolchain: subprograms, callback, custom .data and
    .rodata relocations and kconfig load and give the same result."""
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    obj = open_feat(build("loader_features.c", toolchain))
    obj.load()
    assert obj.find_program_by_name("calls").test_run(data_in=bytes(64)).retval == 24
    assert obj.find_program_by_name("tail_target").test_run(data_in=bytes(64)).retval == 42
