"""upstream-spec §6.2: global_data_init's percpu scenarios, for every toolchain.

init (names, initial image, set_initial_value, set_value_size), load, a run on every CPU
with a per-CPU lookup (BPF_F_CPU), the map-element iterator summing 0xc0de over every
possible CPU, the read-only direct read/write cases, and a kernel without percpu data.
"""

from __future__ import annotations

import pytest

from harness.isa.insn import Insn, encode
from harness.kernel.core import ALL_FEATURES, KernelConfig
from harness.kernel.syscall import EmulatedKernel
from harness.kernelapi import BpfError, MapCreateAttr, ProgLoadAttr
from harness.libbpf.image import ImageReadOnly
from harness.libbpf.skeleton import Skeleton
from harness.uapi import (BPF_F_ALL_CPUS, BPF_F_RDONLY_PROG, BPF_PSEUDO_MAP_VALUE, MapType, ProgType)

from libbpf_support import require_module, toolchain_names

SRC = "test_global_percpu_data.c"
NCPUS = 4
PAGE = 4096
CTX = (0x1234).to_bytes(8, "little") + (0x5678).to_bytes(8, "little")


@pytest.fixture(params=toolchain_names())
def obj_path(request, build):
    return build(SRC, request.param)


def open_skel(path, **cfg) -> Skeleton:
    return Skeleton.open(str(path), EmulatedKernel(KernelConfig(nr_cpus=NCPUS, **cfg)),
                         obj_name="test_global_percpu_data")


def test_init(obj_path):
    skel = open_skel(obj_path)
    for ident in ("percpu", "data_percpu", "percpu_data", "percpu_looooooooong"):
        assert ident in skel.sections
    m = skel.maps
    assert m.percpu_data.user_name == ".percpu.data"
    assert m.data_percpu.user_name == ".data.percpu"
    assert m.percpu_looooooooong.user_name == ".percpu.looooooooong"
    assert m.percpu_looooooooong.name == ".percpu.loooooo"
    assert m.percpu.user_name == ".percpu" and m.percpu.name == ".percpu"
    assert skel.maps.bss.name == "test_glo.bss"
    pc = skel.percpu
    assert pc.data == -1 and pc.set is False and pc.nums[6] == 0
    assert pc.struct_data.i == -1 and pc.struct_data.set == 0 and pc.struct_data.nums[6] == 0
    assert m.percpu.type == MapType.PERCPU_ARRAY
    assert m.data_percpu.type == MapType.ARRAY

    # set_initial_value with a zeroed struct except data, nums[6], struct_data.{i,nums[6]}
    from harness.libbpf.btfview import DatasecView
    from harness.libbpf.image import BufferImage
    size = m.percpu.value_size
    img = BufferImage(b"", size, "scratch")
    v = DatasecView(skel.obj.btf, m.percpu.btf_value_type_id, img)
    v.data, v.struct_data.i = 2, 2
    v.nums[6] = -1
    v.struct_data.nums[6] = -1
    m.percpu.set_initial_value(img.tobytes())
    assert m.percpu.initial_value() == img.tobytes()
    assert pc.data == 2 and pc.nums[6] == -1 and pc.struct_data.i == 2 and pc.struct_data.nums[6] == -1
    with pytest.raises(BpfError) as ei:
        m.percpu.set_initial_value(img.tobytes() + b"\0")
    assert ei.value.errno == 22

    assert PAGE > size
    m.percpu.set_value_size(PAGE)
    assert m.percpu.value_size == PAGE
    assert m.percpu.btf_value_type_id != 0
    init = m.percpu.initial_value()
    assert len(init) == PAGE and int.from_bytes(init[:4], "little", signed=True) == 2
    assert skel.percpu.cpu_id.__len__() == (PAGE - 72) // 4


def run_on_cpus(skel, value_size):
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    prog, m = skel.progs.update_percpu_data, skel.maps.percpu
    for cpu in range(NCPUS):
        res = prog.test_run(ctx_in=CTX, cpu=cpu)
        assert res.retval == 0
        raw = m.lookup_elem(bytes(4), cpu=cpu)
        assert len(raw) == value_size
        v = skel.decode(m, raw)
        assert skel.bss.run == cpu + 1
        assert v.cpu_id[0] == cpu and v.data == 1 and v.set is True and v.nums[6] == 0xc0de
        assert v.struct_data.i == 1 and v.struct_data.set == 1 and v.struct_data.nums[6] == 0xc0de


def test_load_and_run_on_every_cpu(obj_path):
    skel = open_skel(obj_path)
    skel.maps.percpu.set_value_size(PAGE)
    skel.load()
    pc = skel.maps.percpu
    assert pc.fd >= 0
    assert skel.percpu.data == -1                 # the image stays readable after load
    with pytest.raises(ImageReadOnly, match="read-only"):
        skel.percpu.data = 5
    with pytest.raises(BpfError) as ei:
        pc.set_initial_value(bytes(PAGE))
    assert ei.value.errno == 16                   # EBUSY after load
    # validate_map_op: with BPF_F_CPU the buffer must be value_size bytes
    with pytest.raises(BpfError, match="for either BPF_F_CPU or BPF_F_ALL_CPUS, expected 4096"):
        pc.lookup_elem(bytes(4), cpu=0, value_size=80)
    # every CPU got the same initial image (BPF_F_ALL_CPUS)
    for cpu in range(NCPUS):
        assert int.from_bytes(pc.lookup_elem(bytes(4), cpu=cpu)[:4], "little", signed=True) == -1
    with pytest.raises(BpfError) as ei:           # the kernel range-checks the CPU
        pc.lookup_elem(bytes(4), cpu=NCPUS)
    assert ei.value.errno_name == "ERANGE"
    run_on_cpus(skel, PAGE)
    skel.destroy()


def test_iter_sum(obj_path):
    require_module("harness.kernel.iters", "BPF iterators (harness.kernel.iters)")
    skel = open_skel(obj_path)
    size = skel.maps.percpu.value_size
    skel.rodata.num_cpus = NCPUS
    skel.rodata.elem_sz = (size + 7) // 8 * 8
    struct_off = dict((n, o) for _, n, o, _ in skel.obj.btf.datasec_vars(".percpu"))["struct_data"]
    skel.rodata.offsetof_num = struct_off + 36 - 4
    skel.percpu.struct_data.nums[6] = 0xc0de
    skel.load()
    assert skel.rodata.num_cpus == NCPUS          # read back through the frozen map
    with pytest.raises(ImageReadOnly):
        skel.rodata.num_cpus = 1
    skel.progs.dump_percpu_data.run_iter(skel.maps.percpu.fd)
    assert skel.bss.run_iter is True
    assert skel.bss.percpu_data_sum == 0xC0DE * NCPUS
    skel.destroy()


def test_kernel_without_percpu_data_poisons(obj_path):
    """No FEAT_PERCPU_DATA: the map is not created, its ld_imm64s are poisoned, classic
    global data maps are still created."""
    skel = open_skel(obj_path, features=ALL_FEATURES - {"percpu_data"})
    assert skel.obj.supports("percpu_data") is False
    assert skel.obj.supports("global_data") is True
    skel.load(keep_going=True)
    pc = skel.maps.percpu
    assert pc.fd < 0 and pc.autocreate is False and "percpu_data" in pc.skipped_reason
    assert skel.maps.data_percpu.fd >= 0 and skel.maps.bss.fd >= 0
    idx = skel.obj.maps.index(pc)
    prog = skel.progs.update_percpu_data
    assert prog.poisoned
    for at in prog.poisoned:
        assert prog.final_insns[at].code == 0x85 and prog.final_insns[at].imm == 2001000000 + idx
    assert not skel.progs.dump_percpu_data.poisoned
    with pytest.raises(BpfError) as ei:          # libbpf: no fd -> validate_map_op refuses
        pc.lookup_elem(bytes(4), cpu=0)
    assert ei.value.message == "map '.percpu': can't use BPF map without FD (was it created?)"


def test_kernel_without_percpu_data_message(obj_path):
    require_module("harness.kernel.verifier.verifier", "verifier")
    skel = open_skel(obj_path, features=ALL_FEATURES - {"percpu_data"})
    skel.load(keep_going=True)
    err = skel.progs.update_percpu_data.load_error
    assert err is not None
    assert err.message == "BPF map '.percpu' is referenced but wasn't created"
    assert "<invalid BPF map reference>" in err.log
    assert skel.progs.dump_percpu_data.load_error is None


def _ro_map(k):
    fd = k.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, map_name="percpu_ro_map"))
    k.map_update_elem(fd, bytes(4), bytes(8), BPF_F_ALL_CPUS)
    k.map_freeze(fd)
    return fd


@pytest.mark.parametrize("write", [False, True], ids=["rdonly_direct_read", "rdonly_direct_write"])
def test_rdonly_direct_access(write):
    require_module("harness.kernel.verifier.verifier", "verifier")
    k = EmulatedKernel(KernelConfig(nr_cpus=NCPUS))
    fd = _ro_map(k)
    insns = [Insn(0x18, 1, BPF_PSEUDO_MAP_VALUE, 0, fd), Insn(0), Insn(0x79, 0, 1, 0, 0)]
    if write:
        insns.append(Insn(0x7A, 1, 0, 0, 0))
    insns.append(Insn(0x95))
    attr = ProgLoadAttr(ProgType.SOCKET_FILTER, encode(insns), "GPL", log_level=1, log_size=256,
                        prog_name="percpu_ro_prog")
    if not write:
        assert k.prog_load(attr).fd >= 0
    else:
        with pytest.raises(BpfError) as ei:
            k.prog_load(attr)
        assert "write into map forbidden" in ei.value.log


def test_percpu_data_is_not_a_const_string(obj_path):
    """RUN_TESTS part: verifier_strncmp (a '?' program) fails with the verifier's message."""
    require_module("harness.kernel.verifier.verifier", "verifier")
    import re
    skel = open_skel(obj_path)
    prog = skel.progs.verifier_strncmp
    assert prog.autoload is False
    prog.set_autoload(True)
    skel.load(keep_going=True)
    assert prog.fd < 0 and prog.load_error is not None
    assert re.search(r"R\d+ points to percpu_array map which cannot be used as const string",
                     prog.load_error.log + prog.load_error.message)
    assert skel.progs.update_percpu_data.fd >= 0
