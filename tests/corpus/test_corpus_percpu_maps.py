"""Scenario for the BTF-defined per-CPU map cases (corpus/maps/): run on every CPU, then
read each CPU's copy from user space with BPF_F_CPU, overwrite all of them with
BPF_F_ALL_CPUS, and check the whole-map view - for every toolchain, because the value
layout (struct val, the map's BTF) comes from the compiler.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from harness.kernel.core import KernelConfig
from harness.kernel.syscall import EmulatedKernel
from harness.kernelapi import BpfError
from harness.libbpf.skeleton import Skeleton

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
NCPUS = 3
CTX = bytes(16)


def toolchains() -> list[str]:
    from harness.toolchains import load_toolchains
    return sorted(load_toolchains())


def build(case: str, toolchain: str, cache_dir: Path) -> Path:
    from harness.compile import compile_source
    from harness.toolchains import get_toolchain
    tc = get_toolchain(toolchain)
    if not tc.available():
        pytest.skip(f"toolchain missing: {tc.missing_reason()}")
    res = compile_source(CORPUS / case, tc, cache_dir=cache_dir)
    if res.status != "ok":
        pytest.fail(f"{toolchain} failed on {case}: {res.status} {res.signature}")
    return res.obj_path


def open_loaded(path: Path) -> Skeleton:
    return Skeleton.open_and_load(str(path), EmulatedKernel(KernelConfig(nr_cpus=NCPUS)))


@pytest.mark.parametrize("toolchain", toolchains())
def test_percpu_array_per_cpu_copies(toolchain, harness_cache_dir):
    skel = open_loaded(build("maps/percpu_array_btf.c", toolchain, harness_cache_dir))
    prog, m = skel.progs.percpu_array_count, skel.maps.pcpu_counts
    key = struct.pack("<I", 2)
    for cpu in (2, 0):                     # CPU 1 never runs: its copy stays zero
        assert prog.test_run(ctx_in=CTX, cpu=cpu).retval == 7
    per_cpu = {cpu: struct.unpack("<QII", m.lookup_elem(key, cpu=cpu)) for cpu in range(NCPUS)}
    assert per_cpu == {0: (7, 0, 0), 1: (0, 0, 0), 2: (7, 2, 0)}
    with pytest.raises(BpfError) as ei:    # the kernel range-checks the CPU
        m.lookup_elem(key, cpu=NCPUS)
    assert ei.value.errno_name == "ERANGE"

    m.update_elem(key, struct.pack("<QII", 99, 5, 0), all_cpus=True)
    whole = m.lookup_elem(key)             # no flag: every possible CPU, 8-byte rounded
    assert len(whole) == NCPUS * 16
    assert [struct.unpack_from("<QI", whole, 16 * c) for c in range(NCPUS)] == [(99, 5)] * NCPUS
    skel.destroy()


@pytest.mark.parametrize("toolchain", toolchains())
def test_percpu_hash_one_cpu_update(toolchain, harness_cache_dir):
    skel = open_loaded(build("maps/percpu_hash_btf.c", toolchain, harness_cache_dir))
    prog, m = skel.progs.percpu_hash_update, skel.maps.pcpu_hash
    key = struct.pack("<I", 9)
    assert prog.test_run(ctx_in=CTX, cpu=1).retval == 45
    # the program's BPF_ANY insert zero-fills the other CPUs' copies
    assert [struct.unpack("<Q", m.lookup_elem(key, cpu=c))[0] for c in range(NCPUS)] == [0, 45, 0]
    assert prog.test_run(ctx_in=CTX, cpu=0).retval == 1   # key now exists
    m.update_elem(key, struct.pack("<Q", 8), cpu=2)         # BPF_F_CPU: only CPU 2's copy
    whole = m.lookup_elem(key)
    assert [struct.unpack_from("<Q", whole, 8 * c)[0] for c in range(NCPUS)] == [0, 45, 8]
    skel.destroy()
