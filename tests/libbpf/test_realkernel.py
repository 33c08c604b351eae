"""The same loader against the running kernel (harness.realkernel), when bpf(2) is permitted.

On a kernel without global percpu data the loader must fail exactly where libbpf does
(the .percpu maps are not created, the program using them fails with
`BPF map '.percpu' is referenced but wasn't created`), while classic global-data objects
load and run with the same results as on the emulated kernel.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.kernel.syscall import EmulatedKernel
from harness.libbpf.object import Object
from libbpf_support import compile_or_skip, require_module

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "global_data"


@pytest.fixture
def real_kernel():
    from harness.realkernel import RealKernel, probe
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    k = RealKernel()
    yield k


def test_percpu_object_on_running_kernel(real_kernel, build):
    obj = Object.open(str(build("test_global_percpu_data.c")), real_kernel, obj_name="test_global_percpu_data")
    obj.load(keep_going=True)
    try:
        upd = obj.find_program_by_name("update_percpu_data")
        if not obj.supports("percpu_data"):
            pcpu = [m for m in obj.maps if m.user_name.startswith(".percpu")]
            assert pcpu and all(m.fd < 0 and not m.autocreate for m in pcpu)
            assert upd.fd < 0
            assert upd.load_error.message == "BPF map '.percpu' is referenced but wasn't created"
            assert "<invalid BPF map reference>" in upd.load_error.log
        else:
            assert upd.fd >= 0
            for cpu in range(real_kernel.nr_possible_cpus()):
                assert upd.test_run(ctx_in=bytes(16), cpu=cpu).retval == 0
        assert obj.find_map_by_name(".data.percpu").fd >= 0      # classic data map still created
    finally:
        obj.destroy()


@pytest.mark.parametrize("case,prog,retval", [
    ("bss", "bss_count", None), ("data_rw", "data_add", 42), ("data_rw", "data_wide", 1),
    ("rodata", "rodata_mul", 42), ("rodata", "rodata_str", None),
])
def test_classic_global_data_matches_emulated(real_kernel, harness_cache_dir, case, prog, retval):
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    src = CORPUS / f"{case}.c"
    if not src.exists():
        pytest.skip(f"corpus case {src.name} not present")
    path = compile_or_skip(src, "clang19", harness_cache_dir)
    results = []
    for kernel in (real_kernel, EmulatedKernel()):
        obj = Object.open(str(path), kernel, obj_name=case)
        obj.load()
        try:
            p = obj.find_program_by_name(prog)
            assert p.fd >= 0
            results.append(p.test_run(data_in=bytes(64)).retval)
        finally:
            obj.destroy()
    assert results[0] == results[1]
    if retval is not None:
        assert results[0] == retval


def test_skeleton_live_data_on_running_kernel(real_kernel, harness_cache_dir):
    """After load, skel.data is the kernel map (libbpf re-mmaps it): a run's increment
    shows up, and a write from user space is seen by the next run."""
    require_module("harness.kernel.helpers.runenv", "BPF VM (test_run)")
    from harness.libbpf.skeleton import Skeleton
    src = CORPUS / "data_rw.c"
    if not src.exists():
        pytest.skip("corpus case data_rw.c not present")
    skel = Skeleton.open(str(compile_or_skip(src, "clang19", harness_cache_dir)), real_kernel, obj_name="data_rw")
    try:
        assert skel.data.counter == 40                 # initial image before load
        skel.load()
        assert skel.progs.data_add.test_run(data_in=bytes(64)).retval == 42
        assert skel.data.counter == 42
        skel.data.counter = 100
        assert skel.progs.data_add.test_run(data_in=bytes(64)).retval == 102
    finally:
        skel.destroy()
