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
# Hand-written SYSCALL programs, run on the emulated kernel and, where bpf(2) is usable,
# on the running kernel too: the same expected value on both checks our facts.  Cases
# that would hand the real kernel a bad *kernel* pointer (it would oops) or that the
# emulator does not model are emulated-only.

@pytest.fixture(params=["emulated", "real"])
def kernel(request):
    if request.param == "emulated":
        yield EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
        return
    from harness.realkernel import RealKernel, probe
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    with RealKernel() as k:
        yield k


def _emulated_only(k) -> None:
    if not isinstance(k, EmulatedKernel):
        pytest.skip("emulated-only case (a bad kernel pointer would oops the running kernel, or "
                    "the command is not emulated)")


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _ld_map_value(reg: int, fd: int, off: int) -> list[Insn]:
    return [Insn(0x18, reg, BPF_PSEUDO_MAP_VALUE, 0, fd), Insn(0, imm=off)]


def _run_syscall_prog(k, insns: list[Insn]) -> int:
    """Load and run a SYSCALL program (sleepable, as the kernel demands); its signed r0."""
    prog = k.prog_load(ProgLoadAttr(ProgType.SYSCALL, encode(insns), "GPL", prog_flags=BPF_F_SLEEPABLE))
    try:
        return _s32(k.prog_test_run(prog.fd, RunAttr()).retval)
    finally:
        k.close(prog.fd)


def _sys_bpf(k, cmd: int, attr: bytes, size: int | None = None, payload: bytes = b"",
             ptrs: tuple[tuple[int, int], ...] = ()) -> tuple[int, bytes]:
    """bpf_sys_bpf(cmd, &blob, size) from a SYSCALL program.  The blob (an ARRAY map value,
    i.e. program memory) holds `attr` then `payload`; for each (field_off, payload_off)
    in `ptrs` the program first stores &payload[payload_off] into the attr field, as the
    gen_loader does.  Returns (r0, the blob afterwards)."""
    size = len(attr) if size is None else size
    head = len(attr) + (-len(attr) % 8)
    value_size = max(head + len(payload), size, 8)
    blob = k.map_create(MapCreateAttr(MapType.ARRAY, 4, value_size, 1, map_name="blob"))
    try:
        k.map_update_elem(blob, bytes(4), (attr.ljust(head, b"\0") + payload).ljust(value_size, b"\0"))
        insns = _ld_map_value(6, blob, 0)
        for field_off, payload_off in ptrs:
            insns += _ld_map_value(7, blob, head + payload_off) + [Insn(0x7B, 6, 7, field_off, 0)]
        insns += [Insn(0xB7, 1, 0, 0, cmd), Insn(0xBF, 2, 6, 0, 0), Insn(0xB7, 3, 0, 0, size),
                  Insn(0x85, 0, 0, 0, 166), Insn(0x95)]
        return _run_syscall_prog(k, insns), k.map_lookup_elem(blob, bytes(4))
    finally:
        k.close(blob)


def _target(k, map_type=MapType.ARRAY, value_size=8) -> int:
    return k.map_create(MapCreateAttr(map_type, 4, value_size, 1, map_name="target"))


def _elem(fd, key=0, value=0, flags=0) -> bytes:
    return struct.pack("<IIQQQ", fd, 0, key, value, flags)


CASES = [
    # id, cmd, attr builder (k -> bytes), size or None, expected r0, emulated only
    ("prog_test_run_refused", Cmd.PROG_TEST_RUN, lambda k: bytes(80), None, -errno.EINVAL, False),
    ("lookup_refused", Cmd.MAP_LOOKUP_ELEM, lambda k: _elem(_target(k)), None, -errno.EINVAL, False),
    ("unknown_cmd", 999, lambda k: bytes(8), None, -errno.EINVAL, False),
    ("freeze", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", _target(k)), None, 0, False),
    ("freeze_check_attr", Cmd.MAP_FREEZE, lambda k: _elem(_target(k), flags=1), None, -errno.EINVAL, False),
    ("tail_zero_ok", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", _target(k)).ljust(176, b"\0"), None, 0, False),
    ("tail_not_zero", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", _target(k)).ljust(175, b"\0") + b"\1",
     None, -errno.E2BIG, False),
    ("short_attr_zero_filled", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", _target(k)) + b"\xff", 4, 0, False),
    ("freeze_bad_fd", Cmd.MAP_FREEZE, lambda k: struct.pack("<I", 999), None, -errno.EBADF, False),
    ("create_bad_name", Cmd.MAP_CREATE,
     lambda k: struct.pack("<IIIIIII16s", MapType.ARRAY, 4, 8, 1, 0, 0, 0, b"x" * 16), None, -errno.EINVAL, False),
    ("prog_load_no_insns", Cmd.PROG_LOAD, lambda k: struct.pack("<II", ProgType.SOCKET_FILTER, 0), None,
     -errno.E2BIG, False),
    ("update_bad_key_ptr", Cmd.MAP_UPDATE_ELEM, lambda k: _elem(_target(k), key=0x1234, value=0x1234),
     None, -errno.EFAULT, True),
    ("get_fd_by_id_unknown_id", Cmd.MAP_GET_FD_BY_ID, lambda k: struct.pack("<I", 0x7FFFFFF0), None,
     -errno.ENOENT, False),
    ("get_fd_by_id_bad_open_flags", Cmd.MAP_GET_FD_BY_ID,
     lambda k: struct.pack("<III", k.map_get_info(_target(k)).id, 0, 1 << 5), None, -errno.EINVAL, False),
    ("get_fd_by_id_rdonly_not_emulated", Cmd.MAP_GET_FD_BY_ID,
     lambda k: struct.pack("<III", k.map_get_info(_target(k)).id, 0, 1 << 3), None, -ENOTSUPP, True),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_sys_bpf_rules(kernel, case):
    _, cmd, attr, size, expected, emulated_only = case
    if emulated_only:
        _emulated_only(kernel)
    assert _sys_bpf(kernel, cmd, attr(kernel), size)[0] == expected


def test_sys_bpf_map_create_gives_a_working_fd(kernel):
    attr = struct.pack("<IIIIIII16s", MapType.PERCPU_ARRAY, 4, 12, 1, 0, 0, 0, b"made_by_prog")
    fd, _ = _sys_bpf(kernel, Cmd.MAP_CREATE, attr)
    assert fd > 2
    try:
        info = kernel.map_get_info(fd)
        assert (info.type, info.value_size, info.name) == (MapType.PERCPU_ARRAY, 12, "made_by_prog")
        assert len(kernel.map_lookup_elem(fd, bytes(4))) == 16 * kernel.nr_possible_cpus()
    finally:
        kernel.close(fd)


def test_sys_bpf_map_get_fd_by_id(kernel):
    target = _target(kernel)
    map_id = kernel.map_get_info(target).id
    fd, _ = _sys_bpf(kernel, Cmd.MAP_GET_FD_BY_ID, struct.pack("<III", map_id, 0, 0))
    assert fd > 2 and fd != target
    try:
        assert kernel.map_get_info(fd).id == map_id
        kernel.map_update_elem(fd, bytes(4), (5).to_bytes(8, "little"))     # the same map
        assert kernel.map_lookup_elem(target, bytes(4)) == (5).to_bytes(8, "little")
    finally:
        kernel.close(fd)


def _percpu_values(k, fd, value_size) -> list[bytes]:
    raw, stride = k.map_lookup_elem(fd, bytes(4)), (value_size + 7) // 8 * 8
    return [raw[i * stride:i * stride + value_size] for i in range(k.nr_possible_cpus())]


UPDATES = [
    # id, flags (cpu in bits 32..63), value bytes given to the kernel, expected errno, CPUs written
    ("all_cpus", 16, b"A" * 12, 0, "all"),
    ("one_cpu", 8 | 2 << 32, b"B" * 12, 0, [2]),
    ("cpu_out_of_range", 8 | NCPUS << 32, b"C" * 12, errno.ERANGE, []),
    ("both_cpu_flags", 8 | 16, b"D" * 12, errno.EINVAL, []),
    ("every_cpu_buffer", 0, b"".join(bytes([0x30 + c]) * 12 + bytes(4) for c in range(NCPUS)), 0, "each"),
]


@pytest.mark.parametrize("case", UPDATES, ids=[u[0] for u in UPDATES])
def test_sys_bpf_percpu_update_reads_the_flagged_value_size(case):
    """MAP_UPDATE_ELEM from a loader program reads value_size bytes with BPF_F_CPU /
    BPF_F_ALL_CPUS and ncpus * round_up(value_size, 8) without (upstream-spec §1.6); the
    flag checks are the syscall's.  (Emulated only: 6.18 has no BPF_F_CPU.)"""
    _, flags, value, err, written = case
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    fd = _target(k, MapType.PERCPU_ARRAY, 12)
    ret, _ = _sys_bpf(k, Cmd.MAP_UPDATE_ELEM, _elem(fd, flags=flags), payload=bytes(8) + value,
                      ptrs=((8, 0), (16, 8)))
    assert ret == -err
    got = _percpu_values(k, fd, 12)
    if written == "all":
        assert got == [value] * NCPUS
    elif written == "each":
        assert got == [value[c * 16:c * 16 + 12] for c in range(NCPUS)]
    else:
        assert got == [value if c in written else bytes(12) for c in range(NCPUS)]


def test_sys_bpf_btf_load(kernel):
    from harness.elf.btf import Btf
    btf = Btf()
    btf.add_int("int", 4, 1)
    data = btf.encode()
    fd, _ = _sys_bpf(kernel, Cmd.BTF_LOAD, struct.pack("<QQII", 0, 0, len(data), 0), payload=data,
                     ptrs=((0, 0),))
    assert fd > 2
    kernel.close(fd)
    bad, _ = _sys_bpf(kernel, Cmd.BTF_LOAD, struct.pack("<QQII", 0, 0, len(data), 0),
                      payload=b"\0" * len(data), ptrs=((0, 0),))
    assert bad == -errno.EINVAL                    # no BTF magic


def _user_buffer(k, data: bytes):
    """(address, read-back) of a user-space buffer the kernel may copy from/to."""
    if isinstance(k, EmulatedKernel):
        buf = bytearray(data)
        return user_memory(k).map(buf), lambda: bytes(buf)
    cbuf = ctypes.create_string_buffer(bytes(data), len(data))
    return ctypes.addressof(cbuf), lambda: cbuf.raw


def _load_bad_prog(kernel, log_level: int, log_size: int) -> tuple[int, str, int]:
    """PROG_LOAD of `exit` with R0 unset from a SYSCALL program: (r0, the user's log
    buffer as text, log_true_size written back into the attr)."""
    log_addr, log = _user_buffer(kernel, bytes(4096))
    attr = struct.pack("<IIQQIIQ", ProgType.SOCKET_FILTER, 1, 0, 0, log_level, log_size, log_addr).ljust(168, b"\0")
    ret, blob = _sys_bpf(kernel, Cmd.PROG_LOAD, attr, payload=encode([Insn(0x95)]) + b"GPL\0",
                         ptrs=((8, 0), (16, 8)))
    return ret, log().split(b"\0", 1)[0].decode(), int.from_bytes(blob[140:144], "little")


def test_sys_bpf_prog_load_log_goes_to_user_memory(kernel):
    """The verifier log buffer is a *user* pointer even from a SYSCALL program, and the
    log's true size is written back into the attr (program memory)."""
    ret, text, true_size = _load_bad_prog(kernel, 1, 4096)
    assert ret == -errno.EACCES
    assert "R0 !read_ok" in text
    assert true_size == len(text) + 1


@pytest.mark.parametrize("log_level, keep", [(1, "tail"), (1 | 8, "head")], ids=["rotating", "fixed"])
def test_sys_bpf_prog_load_log_too_small(kernel, log_level, keep):
    """A log that does not fit: -ENOSPC, the tail (or the head with BPF_LOG_FIXED) of the
    whole log in the buffer, and the size it would have needed as log_true_size."""
    _, full, _ = _load_bad_prog(kernel, 1, 4096)
    ret, text, true_size = _load_bad_prog(kernel, log_level, 24)
    assert ret == -errno.ENOSPC
    assert true_size == len(full) + 1
    assert text == (full[-23:] if keep == "tail" else full[:23])


def test_sys_bpf_prog_load_uses_fd_array(kernel):
    """A program whose map reference is a BPF_PSEUDO_MAP_IDX_VALUE index into fd_array
    (program memory), as every gen_loader program load is."""
    target = _target(kernel)
    kernel.map_update_elem(target, bytes(4), (77).to_bytes(8, "little"))
    prog = encode([Insn(0x18, 1, 6, 0, 0), Insn(0), Insn(0x79, 0, 1, 0, 0), Insn(0x95)])  # r0 = *(u64 *)map
    attr = struct.pack("<IIQQ", ProgType.SOCKET_FILTER, 4, 0, 0).ljust(168, b"\0")
    payload = prog + b"GPL\0".ljust(8, b"\0") + struct.pack("<i", target)
    fd, _ = _sys_bpf(kernel, Cmd.PROG_LOAD, attr, payload=payload, ptrs=((8, 0), (16, 32), (120, 40)))
    assert fd > 2
    try:
        assert kernel.prog_test_run(fd, RunAttr(data_in=bytes(64))).retval == 77
    finally:
        kernel.close(fd)
    no_array, _ = _sys_bpf(kernel, Cmd.PROG_LOAD, attr, payload=payload, ptrs=((8, 0), (16, 32)))
    assert no_array == -errno.EPROTO                 # fd_idx without fd_array


def test_copy_from_user(kernel):
    """A user pointer copies; a kernel address is not user memory: -EFAULT, destination zeroed."""
    src, _ = _user_buffer(kernel, b"ABCDEFGH")
    blob = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, 16, 1, map_name="blob"))

    def copy(user_ptr):
        kernel.map_update_elem(blob, bytes(4), b"\xee" * 16)
        insns = _ld_map_value(1, blob, 0) + [
            Insn(0xB7, 2, 0, 0, 8), Insn(0x18, 3, 0, 0, _s32(user_ptr)), Insn(0, imm=_s32(user_ptr >> 32)),
            Insn(0x85, 0, 0, 0, 148), Insn(0x95)]
        return _run_syscall_prog(kernel, insns), kernel.map_lookup_elem(blob, bytes(4))[:8]

    try:
        assert copy(src) == (0, b"ABCDEFGH")
        assert copy(0xFFFF_8000_0000_0000) == (-errno.EFAULT, bytes(8))
        if isinstance(kernel, EmulatedKernel):     # past the end of the mapping
            assert copy(src + 4) == (-errno.EFAULT, bytes(8))
    finally:
        kernel.close(blob)


def test_sys_close(kernel):
    # created by a program, so the RealKernel wrapper does not own (and later re-close) it
    fd, _ = _sys_bpf(kernel, Cmd.MAP_CREATE, struct.pack("<IIIIIII16s", MapType.ARRAY, 4, 8, 1, 0, 0, 0, b"t"))
    assert fd > 2

    def close(n):
        return _run_syscall_prog(kernel, [Insn(0xB7, 1, 0, 0, n), Insn(0x85, 0, 0, 0, 168), Insn(0x95)])

    assert close(fd) == 0
    with pytest.raises(BpfError):
        kernel.map_get_info(fd)
    assert close(999) == -errno.EBADF       # (fd itself may be reused by the next prog_load)


@pytest.mark.parametrize("helper_id", [166, 168, 148], ids=["sys_bpf", "sys_close", "copy_from_user"])
def test_syscall_helpers_only_for_syscall_programs(kernel, helper_id):
    insns = [Insn(0xB7, 1, 0, 0, 0), Insn(0xB7, 2, 0, 0, 0), Insn(0xB7, 3, 0, 0, 0),
             Insn(0x85, 0, 0, 0, helper_id), Insn(0x95)]
    with pytest.raises(BpfError) as ei:
        kernel.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(insns), "GPL"))
    assert ei.value.errno == errno.EINVAL


def test_lskel_iter_sum_with_link_created_by_a_program(corpus_build):
    """global_data_init's `iter` subtest through a light skeleton: .rodata and .percpu images
    come from user memory, and the iterator link is made by BPF_LINK_CREATE from a SYSCALL
    program (iter_info in program memory); the sum covers every possible CPU."""
    from harness.uapi import AttachType
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    obj = Object.open(str(corpus_build("test_global_percpu_data.c")), k)
    off = _percpu_offsets(obj)
    loader = build_loader(obj)
    pc_idx, ro_idx = loader.map_names.index(".percpu"), loader.map_names.index("test_glo.rodata")
    pc, ro = obj.maps[pc_idx], obj.maps[ro_idx]
    percpu = bytearray(pc.image.read(0, pc.def_.value_size))
    nums6 = off["struct_data"] + 32
    percpu[nums6:nums6 + 4] = (0xC0DE).to_bytes(4, "little")
    rodata = bytearray(ro.image.read(0, ro.def_.value_size))
    ro_off = {n: o for _, n, o, _ in obj.btf.datasec_vars(".rodata")}
    for name, value in (("num_cpus", NCPUS), ("offsetof_num", nums6),
                        ("elem_sz", (pc.def_.value_size + 7) // 8 * 8)):
        rodata[ro_off[name]:ro_off[name] + 4] = value.to_bytes(4, "little")
    um = user_memory(k)
    maps, progs = run_loader(k, loader, {pc_idx: um.map(percpu), ro_idx: um.map(rodata)})
    dump = progs[loader.prog_names.index("dump_percpu_data")]
    attr = struct.pack("<IIIIQI", dump, 0, AttachType.TRACE_ITER, 0, 0, 16)
    link, _ = _sys_bpf(k, Cmd.LINK_CREATE, attr, payload=struct.pack("<I", maps[pc_idx]).ljust(16, b"\0"),
                       ptrs=((16, 0),))
    assert link > 2
    k.iter_read(k.iter_create(link))
    bss_off = {n: o for _, n, o, _ in obj.btf.datasec_vars(".bss")}
    bss = k.map_lookup_elem(maps[loader.map_names.index("test_glo.bss")], bytes(4))
    assert bss[bss_off["run_iter"]] == 1
    assert _i32(bss, bss_off["percpu_data_sum"]) == 0xC0DE * NCPUS
