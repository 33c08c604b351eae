"""Light skeletons on the emulated kernel: the gen_loader program (BPF_PROG_TYPE_SYSCALL)
runs through bpf_sys_bpf / bpf_copy_from_user (harness/kernel/helpers/impl_syscall.py)
and must give the same maps and programs as the ordinary loader, `.percpu` data included
(upstream-spec §4.9: one image, BPF_F_ALL_CPUS, so every CPU starts equal).

Also here: the attr layouts the emulated kernel decodes (harness/kernel/sysattr.py) are
checked against the two other copies (realkernel's ctypes, gen_loader's encoder), and
bpf_sys_bpf's own rules (allowed commands, tail and CHECK_ATTR checks, faults) are run
from small hand-written SYSCALL programs.
"""

from __future__ import annotations

import ctypes
import errno
import struct

import pytest

from harness.isa import decode
from harness.isa.insn import Insn, encode
from harness.kernel.core import KernelConfig
from harness.kernel.syscall import EmulatedKernel
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.kernelapi import TestRunAttr as RunAttr
from harness.libbpf import gen_loader
from harness.libbpf.gen_loader import build_loader, run_loader
from harness.libbpf.object import Object
from harness.uapi import (BPF_F_CPU, BPF_F_SLEEPABLE, BPF_F_TEST_RUN_ON_CPU, BPF_PSEUDO_MAP_VALUE, ENOTSUPP,
                          Cmd, MapType, ProgType)

from libbpf_support import require_module

NCPUS = 4
CTX = (0x1234).to_bytes(8, "little") + (0x5678).to_bytes(8, "little")
CORPUS = ["test_global_percpu_data.c", "prog_array.c", "percpu_ints.c", "percpu_sizes.c"]


@pytest.fixture(autouse=True)
def _needs_vm_and_verifier():
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    require_module("harness.kernel.verifier", "verifier")


@pytest.fixture
def corpus_build(build, bpf_build):
    """tests/libbpf/data and the upstream mirror via `build`, corpus/percpu via `bpf_build`."""
    from libbpf_support import PERCPU_SRC

    def _build(name: str):
        if name.startswith("percpu_"):
            return bpf_build(PERCPU_SRC.parent / "percpu" / name)
        return build(name)
    return _build


def user_memory(kernel):
    from harness.kernel.helpers.usermem import user_memory as um
    return um(kernel)


# ----------------------------------------------------------------------------- layouts
def _spots(rec) -> dict[str, tuple[int, int]]:
    """{field: (offset, size)} of a harness.elf.layout record, pads left out."""
    import re
    out, off = {}, 0
    formats = [n + c for n, c in re.findall(r"(\d*)([a-zA-Z])", rec.STRUCT.format.lstrip("<"))]
    for name, fmt in zip(rec._fields, formats):
        size = struct.calcsize("<" + fmt)
        if not name.startswith(("pad", "rest")):
            out[name] = (off, size)
        off += size
    return out


def _layout_pairs():
    from harness.kernel import sysattr
    from harness.realkernel import attrs
    return [(sysattr.MapCreate, attrs.AttrMapCreate), (sysattr.MapElem, attrs.AttrMapElem),
            (sysattr.ProgLoad, attrs.AttrProgLoad), (sysattr.BtfLoad, attrs.AttrBtfLoad),
            (sysattr.LinkCreate, attrs.AttrLinkCreate)]


@pytest.mark.parametrize("pair", range(5), ids=["map_create", "map_elem", "prog_load", "btf_load", "link_create"])
def test_sysattr_matches_realkernel_layouts(pair):
    from harness.realkernel.attrs import flat_fields
    rec, cls = _layout_pairs()[pair]
    theirs = flat_fields(cls)
    ours = _spots(rec)
    assert rec.SIZE == ctypes.sizeof(cls)
    assert {n: s for n, s in ours.items() if theirs.get(n) != s} == {}


@pytest.mark.parametrize("name", ["MapCreate", "MapElem", "ProgLoad"])
def test_gen_loader_encodes_what_the_kernel_decodes(name):
    from harness.kernel import sysattr
    ours, theirs = _spots(getattr(sysattr, name)), _spots(getattr(gen_loader, "Attr" + name))
    assert theirs and {n: s for n, s in theirs.items() if ours.get(n) != s} == {}


# ----------------------------------------------------------------------------- lskel == loader
def _xlated_by_map_name(kernel, fd: int) -> list[Insn]:
    """xlated insns with map ids (they differ between the two kernels) replaced by map names."""
    names = {}
    for mfd, obj in kernel.fds.objects.items():
        if hasattr(obj, "map_type"):
            names[obj.id] = obj.name
    out = decode(kernel.prog_get_info(fd).xlated)
    for i, insn in enumerate(out):
        if insn.code == 0x18 and insn.src:
            out[i] = insn.replace(imm=hash(names.get(insn.imm, insn.imm)) & 0x7FFFFFFF)
    return out


def _lookup(kernel, fd, key):
    """The element, or the errno; a PROG_ARRAY slot (a prog id, which differs between the
    kernels) as the name of the program it holds."""
    try:
        value = kernel.map_lookup_elem(fd, key)
    except BpfError as e:
        return e.errno
    if kernel.map_get_info(fd).type == MapType.PROG_ARRAY:
        ids = {obj.id: obj.name for obj in kernel.fds.objects.values() if hasattr(obj, "prog_type")}
        return ids.get(int.from_bytes(value, "little"), value)
    return value


@pytest.mark.parametrize("src", CORPUS)
def test_lskel_gives_the_same_maps_and_programs(corpus_build, src):
    path = str(corpus_build(src))
    k1 = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    normal = Object.open(path, k1)
    normal.load()
    k2 = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    loader = build_loader(Object.open(path, k2))
    maps, progs = run_loader(k2, loader)
    assert sorted(loader.map_names) == sorted(m.name for m in normal.maps)
    for m in normal.maps:
        fd = maps[loader.map_names.index(m.name)]
        a, b = k1.map_get_info(m.fd), k2.map_get_info(fd)
        spec = ("type", "key_size", "value_size", "max_entries", "map_flags", "name")
        assert [getattr(a, f) for f in spec] == [getattr(b, f) for f in spec]
        if a.key_size == 4:                 # every CPU's copy for per-CPU maps (flags 0)
            for key in range(min(a.max_entries, 2)):
                k = key.to_bytes(4, "little")
                assert _lookup(k1, m.fd, k) == _lookup(k2, fd, k)
    expected = [p for p in normal.programs if p.autoload]
    assert loader.prog_names == [p.name for p in expected]
    for p, fd in zip(expected, progs):
        a, b = k1.prog_get_info(p.fd), k2.prog_get_info(fd)
        assert (a.type, a.name) == (b.type, b.name)
        assert _xlated_by_map_name(k1, p.fd) == _xlated_by_map_name(k2, fd)


def test_lskel_prog_array_tail_call(corpus_build):
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    loader = build_loader(Object.open(str(corpus_build("prog_array.c")), k, obj_name="prog_array"))
    maps, progs = run_loader(k, loader)
    entry = progs[loader.prog_names.index("entry")]
    assert k.prog_test_run(entry, RunAttr(data_in=bytes(64))).retval == 42     # slot 1 was filled
    data = maps[loader.map_names.index("prog_arr.data")]
    assert int.from_bytes(k.map_lookup_elem(data, bytes(4)), "little") == 6


# ----------------------------------------------------------------------------- .percpu per CPU
def _percpu_offsets(obj) -> dict[str, int]:
    return {name: off for _, name, off, _ in obj.btf.datasec_vars(".percpu")}


def _i32(buf: bytes, off: int) -> int:
    return int.from_bytes(buf[off:off + 4], "little", signed=True)


def test_percpu_lskel_right_on_every_cpu(corpus_build):
    """global_data_init's `lskel` subtest: the user's image (skel->percpu, given to the loader
    as maps.percpu.initial_value) reaches every CPU, then one run per CPU changes only that
    CPU's copy, and the .bss counter counts the runs."""
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    obj = Object.open(str(corpus_build("test_global_percpu_data.c")), k)
    off = _percpu_offsets(obj)
    bss_run = {n: o for _, n, o, _ in obj.btf.datasec_vars(".bss")}["run"]
    loader = build_loader(obj)
    idx = loader.map_names.index(".percpu")
    m = obj.maps[idx]
    image = bytearray(m.image.read(0, m.def_.value_size))
    image[off["struct_data"] + 32:off["struct_data"] + 36] = (0xC0DE).to_bytes(4, "little")  # nums[6]
    image[off["data"]:off["data"] + 4] = (7).to_bytes(4, "little", signed=True)
    maps, progs = run_loader(k, loader, {idx: user_memory(k).map(image)})
    percpu, bss = maps[idx], maps[loader.map_names.index("test_glo.bss")]
    prog = progs[loader.prog_names.index("update_percpu_data")]

    def on(cpu):
        return k.map_lookup_elem(percpu, bytes(4), BPF_F_CPU | cpu << 32)

    assert all(on(cpu) == bytes(image) for cpu in range(NCPUS))       # BPF_F_ALL_CPUS
    for cpu in range(NCPUS):
        res = k.prog_test_run(prog, RunAttr(ctx_in=CTX, flags=BPF_F_TEST_RUN_ON_CPU, cpu=cpu))
        assert res.retval == 0
        v = on(cpu)
        assert _i32(v, off["cpu_id"]) == cpu and _i32(v, off["data"]) == 1 and v[off["set"]] == 1
        assert _i32(v, off["nums"] + 24) == 0xC0DE
        sd = off["struct_data"]
        assert v[sd] == 1 and _i32(v, sd + 4) == 1 and _i32(v, sd + 32) == 0xC0DE
        assert _i32(k.map_lookup_elem(bss, bytes(4)), bss_run) == cpu + 1
        for later in range(cpu + 1, NCPUS):
            assert on(later) == bytes(image)


def test_loader_initial_value_fault_is_efault(corpus_build):
    """bpf_copy_from_user of an unmapped user pointer: -EFAULT ends the loader."""
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    loader = build_loader(Object.open(str(corpus_build("test_global_percpu_data.c")), k))
    with pytest.raises(BpfError) as ei:
        run_loader(k, loader, {loader.map_names.index(".percpu"): 0x7E00_0000_0000})
    assert ei.value.errno == errno.EFAULT


def test_loader_needs_percpu_data_feature(corpus_build):
    """No percpu data in the kernel: a light skeleton cannot probe (libbpf's lskel neither),
    so the loader program itself fails with the kernel's EINVAL, as on the running 6.18."""
    from harness.kernel.core import ALL_FEATURES
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS, features=ALL_FEATURES - {"percpu_data"}))
    loader = build_loader(Object.open(str(corpus_build("test_global_percpu_data.c")), k))
    with pytest.raises(BpfError) as ei:
        run_loader(k, loader)
    assert ei.value.errno == errno.EINVAL


# ----------------------------------------------------------------------------- bpf_sys_bpf rules
def _sys_bpf(k, cmd: int, attr: bytes, size: int | None = None) -> int:
    """Run a SYSCALL program doing bpf_sys_bpf(cmd, &blob, size) with `attr` in the blob."""
    size = len(attr) if size is None else size
    blob = k.map_create(MapCreateAttr(MapType.ARRAY, 4, max(size, len(attr), 8), 1, map_name="blob"))
    k.map_update_elem(blob, bytes(4), attr.ljust(max(size, len(attr), 8), b"\0"))
    insns = [Insn(0xB7, 1, 0, 0, cmd), Insn(0x18, 2, BPF_PSEUDO_MAP_VALUE, 0, blob), Insn(0),
             Insn(0xB7, 3, 0, 0, size), Insn(0x85, 0, 0, 0, 166), Insn(0x95)]
    prog = k.prog_load(ProgLoadAttr(ProgType.SYSCALL, encode(insns), "GPL", prog_flags=BPF_F_SLEEPABLE))
    ret = k.prog_test_run(prog.fd, RunAttr()).retval
    return ret - (1 << 32) if ret >> 31 else ret


def _target(k) -> int:
    return k.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1, map_name="target"))


def _elem(fd, key=0, value=0, flags=0) -> bytes:
    return struct.pack("<IIQQQ", fd, 0, key, value, flags)


CASES = [
    # id, cmd, attr builder (k -> bytes), size or None, expected return
    ("prog_test_run_refused", Cmd.PROG_TEST_RUN, lambda k: bytes(80), None, -errno.EINVAL),
    ("lookup_refused", Cmd.MAP_LOOKUP_ELEM, lambda k: _elem(_target(k)), None, -errno.EINVAL),
    ("unknown_cmd", 999, lambda k: bytes(8), None, -errno.EINVAL),
    ("freeze", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", _target(k)), None, 0),
    ("freeze_check_attr", Cmd.MAP_FREEZE, lambda k: _elem(_target(k), flags=1), None, -errno.EINVAL),
    ("tail_zero_ok", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", _target(k)).ljust(176, b"\0"), None, 0),
    ("tail_not_zero", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", _target(k)).ljust(175, b"\0") + b"\1",
     None, -errno.E2BIG),
    ("short_attr_zero_filled", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", _target(k)) + b"\xff", 4, 0),
    ("freeze_bad_fd", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", 99), None, -errno.EBADF),
    ("update_bad_key_ptr", Cmd.MAP_UPDATE_ELEM, lambda k: _elem(_target(k), key=0x1234, value=0x1234),
     None, -errno.EFAULT),
    ("get_fd_by_id_not_emulated", Cmd.MAP_GET_FD_BY_ID, lambda k: struct.pack("<I", 1), None, -ENOTSUPP),
    ("create_bad_name", Cmd.MAP_CREATE,
     lambda k: struct.pack("<IIIIIII16s", MapType.ARRAY, 4, 8, 1, 0, 0, 0, b"x" * 16), None, -errno.EINVAL),
    ("prog_load_no_insns", Cmd.PROG_LOAD, lambda k: struct.pack("<II", ProgType.SOCKET_FILTER, 0), None,
     -errno.E2BIG),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_sys_bpf_rules(case):
    _, cmd, attr, size, expected = case
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    assert _sys_bpf(k, cmd, attr(k), size) == expected


def test_sys_bpf_map_create_gives_a_working_fd():
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    attr = struct.pack("<IIIIIII16s", MapType.PERCPU_ARRAY, 4, 12, 1, 0, 0, 0, b"made_by_prog")
    fd = _sys_bpf(k, Cmd.MAP_CREATE, attr)
    info = k.map_get_info(fd)
    assert (info.type, info.value_size, info.name) == (MapType.PERCPU_ARRAY, 12, "made_by_prog")
    assert len(k.map_lookup_elem(fd, bytes(4))) == 16 * NCPUS


def test_sys_bpf_prog_load_log_goes_to_user_memory():
    """The verifier log buffer is a user pointer even from a SYSCALL program."""
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    log = bytearray(4096)
    log_addr = user_memory(k).map(log)
    bad = encode([Insn(0x95)])                       # exit with R0 unset
    blob = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 256, 1, map_name="blob"))
    # the insns and license live in a second map the test can address: a user buffer is
    # not program memory, so put them into the attr blob itself and point at them there
    k.map_update_elem(blob, bytes(4), bytes(256))
    insns = [Insn(0x18, 6, BPF_PSEUDO_MAP_VALUE, 0, blob), Insn(0),                  # r6 = &blob
             Insn(0x18, 7, BPF_PSEUDO_MAP_VALUE, 0, blob), Insn(0, imm=0), Insn(0x07, 7, 0, 0, 200),
             Insn(0x7B, 6, 7, 8, 0),                                                  # attr.insns
             Insn(0x07, 7, 0, 0, 8), Insn(0x7B, 6, 7, 16, 0),                         # attr.license
             Insn(0xB7, 1, 0, 0, Cmd.PROG_LOAD), Insn(0xBF, 2, 6, 0, 0), Insn(0xB7, 3, 0, 0, 168),
             Insn(0x85, 0, 0, 0, 166), Insn(0x95)]
    attr = bytearray(struct.pack("<IIQQIIQ", ProgType.SOCKET_FILTER, 1, 0, 0, 1, len(log), log_addr))
    attr = attr.ljust(200, b"\0") + bad + b"GPL\0"
    k.map_update_elem(blob, bytes(4), bytes(attr).ljust(256, b"\0"))
    prog = k.prog_load(ProgLoadAttr(ProgType.SYSCALL, encode(insns), "GPL", prog_flags=BPF_F_SLEEPABLE))
    ret = k.prog_test_run(prog.fd, RunAttr()).retval
    assert ret - (1 << 32) == -errno.EACCES
    text = bytes(log).split(b"\0", 1)[0].decode()
    assert "R0 !read_ok" in text
    true_size = int.from_bytes(k.map_lookup_elem(blob, bytes(4))[140:144], "little")
    assert true_size == len(text) + 1


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def test_copy_from_user_reads_user_memory_only():
    """A user pointer into the emulated user address space copies; a kernel address (the
    blob itself) is not user memory: -EFAULT with the destination zeroed."""
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    src = user_memory(k).map(b"ABCDEFGH")
    blob = k.map_create(MapCreateAttr(MapType.ARRAY, 4, 16, 1, map_name="blob"))
    k.map_update_elem(blob, bytes(4), b"\xee" * 16)

    def copy(user_ptr):
        insns = [Insn(0x18, 1, BPF_PSEUDO_MAP_VALUE, 0, blob), Insn(0), Insn(0xB7, 2, 0, 0, 8),
                 Insn(0x18, 3, 0, 0, _s32(user_ptr)), Insn(0, imm=_s32(user_ptr >> 32)),
                 Insn(0x85, 0, 0, 0, 148), Insn(0x95)]
        prog = k.prog_load(ProgLoadAttr(ProgType.SYSCALL, encode(insns), "GPL", prog_flags=BPF_F_SLEEPABLE))
        ret = k.prog_test_run(prog.fd, RunAttr()).retval
        return (ret - (1 << 32) if ret >> 31 else ret), k.map_lookup_elem(blob, bytes(4))[:8]

    assert copy(src) == (0, b"ABCDEFGH")
    assert copy(src + 4) == (-errno.EFAULT, bytes(8))          # 8 bytes from +4 run past the buffer
    assert copy(0x8000_0000_0000_0000) == (-errno.EFAULT, bytes(8))


def test_sys_close():
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    fd = _target(k)

    def close(n):
        insns = [Insn(0xB7, 1, 0, 0, n), Insn(0x85, 0, 0, 0, 168), Insn(0x95)]
        prog = k.prog_load(ProgLoadAttr(ProgType.SYSCALL, encode(insns), "GPL", prog_flags=BPF_F_SLEEPABLE))
        ret = k.prog_test_run(prog.fd, RunAttr()).retval
        return ret - (1 << 32) if ret >> 31 else ret

    assert close(fd) == 0
    assert close(fd) == -errno.EBADF
    with pytest.raises(BpfError):
        k.map_get_info(fd)


@pytest.mark.parametrize("helper_id", [166, 168, 148], ids=["sys_bpf", "sys_close", "copy_from_user"])
def test_syscall_helpers_only_for_syscall_programs(helper_id):
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    insns = [Insn(0xB7, 1, 0, 0, 0), Insn(0xB7, 2, 0, 0, 0), Insn(0xB7, 3, 0, 0, 0),
             Insn(0x85, 0, 0, 0, helper_id), Insn(0x95)]
    with pytest.raises(BpfError) as ei:
        k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(insns), "GPL"))
    assert ei.value.errno == errno.EINVAL
