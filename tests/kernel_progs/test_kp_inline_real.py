"""Helper inlining, bpf_fastcall spill/fill removal, dead-code removal and division guards
after verification (harness/kernel/inlining.py, fastcall.py, fixups.py), bpf_loop inlining and jit_subprogs
against the running
kernel: the same programs on both kernels must give the same xlated program (up to map
ids, helper call immediates and kernel addresses, kp_inline_progs.normalise) and the same
test_run results on every CPU.  Skipped with probe()'s reason where bpf(2) is unavailable."""

from __future__ import annotations

import pytest

from harness import kernelapi
from harness.isa import decode, encode
from harness.isa.disasm import disasm
from harness.kernel import EmulatedKernel
from harness.kernelapi import BpfError, ProgLoadAttr
from harness.uapi import BPF_F_TEST_RUN_ON_CPU
from kp_inline_progs import (
    CASES, DEAD_CODE_CASES, DIV_CASES, FASTCALL_CASES, INNER_MAP_CASES, INTERACTION_CASES, LD_ABS_CASES, LOOP_CASES,
    MAY_GOTO_CASES, RAW_TP, SUBPROG_CASES, ZEXT_CASES, lookup_prog, normalise, smp_id,
)

pytestmark = pytest.mark.realkernel


@pytest.fixture(scope="module")
def real():
    from harness.realkernel import RealKernel, probe
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    return RealKernel()


def _xlated(k, build):
    prog_type, insns, maps, *kw = build(k)
    try:
        fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL", **(kw[0] if kw else {}))).fd
        try:
            return disasm(normalise(decode(k.prog_get_info(fd).xlated)))
        finally:
            k.close(fd)
    finally:
        for m in maps:
            k.close(m)


ALL_CASES = {**CASES, **DEAD_CODE_CASES, **FASTCALL_CASES, **DIV_CASES, **SUBPROG_CASES, **LOOP_CASES,
             **MAY_GOTO_CASES, **INTERACTION_CASES, **LD_ABS_CASES, **ZEXT_CASES}


@pytest.mark.parametrize("name", list(ALL_CASES))
def test_xlated_same_as_running_kernel(real, name):
    emulated = EmulatedKernel(nr_cpus=real.nr_possible_cpus())
    assert _xlated(emulated, ALL_CASES[name]) == _xlated(real, ALL_CASES[name])


def _runs(k, build, cpus):
    prog_type, insns, maps, *kw = build(k)
    out = []
    fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL", **(kw[0] if kw else {}))).fd
    try:
        for cpu in cpus:
            try:
                out.append(k.prog_test_run(fd, kernelapi.TestRunAttr(flags=BPF_F_TEST_RUN_ON_CPU, cpu=cpu)).retval)
            except BpfError as e:
                out.append(e.errno_name)
    finally:
        k.close(fd)
        for m in maps:
            k.close(m)
    return out


def _array_value_on_cpu(k):
    """A per-CPU array written from user space per CPU, read back by an inlined lookup."""
    from harness.kernelapi import MapCreateAttr
    from harness.uapi import MapType
    n = k.nr_possible_cpus() if hasattr(k, "nr_possible_cpus") else k.config.nr_cpus
    fd = k.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 4, 2))
    k.map_update_elem(fd, (1).to_bytes(4, "little"),
                      b"".join((100 + c).to_bytes(4, "little") + bytes(4) for c in range(n)))
    return RAW_TP, lookup_prog(fd), [fd]


RUN_CASES = {
    "smp_id": smp_id,
    "percpu_array_value": _array_value_on_cpu,
    **{name: CASES[name] for name in ("smp_id_twice", "spilled_map_ptr", "array_pow2", "hash", "lru_hash",
                                      "percpu_hash", "lookup_in_subprog", "array_of_maps")},
    **DEAD_CODE_CASES,
    **DIV_CASES,
    **SUBPROG_CASES,
    **LOOP_CASES,
    **MAY_GOTO_CASES,
    **ZEXT_CASES,
    **{n: b for n, b in INTERACTION_CASES.items() if n != "fastcall_helper_write"},   # (reads kernel memory)
    **{n: b for n, b in FASTCALL_CASES.items() if n != "fastcall_other_helper"},    # (that one reads the clock)
}


@pytest.mark.parametrize("name", list(RUN_CASES))
def test_runs_same_as_running_kernel(real, name):
    cpus = list(range(real.nr_possible_cpus()))
    emulated = EmulatedKernel(nr_cpus=len(cpus))
    assert _runs(emulated, RUN_CASES[name], cpus) == _runs(real, RUN_CASES[name], cpus)


PACKET = bytes(range(64))


def _skb_run(k, build):
    prog_type, insns, _ = build(k)
    fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL")).fd
    try:
        return k.prog_test_run(fd, kernelapi.TestRunAttr(data_in=PACKET)).retval
    finally:
        k.close(fd)


@pytest.mark.parametrize("name", list(LD_ABS_CASES))
def test_ld_abs_runs_same_as_running_kernel(real, name):
    assert _skb_run(EmulatedKernel(nr_cpus=2), LD_ABS_CASES[name]) == _skb_run(real, LD_ABS_CASES[name])


@pytest.mark.parametrize("name", list(INNER_MAP_CASES))
def test_inner_map_lookup_same_as_running_kernel(real, name):
    """Lookups in the inner map of a map-in-map are inlined by the outer map's template."""
    try:
        emulated = _xlated(EmulatedKernel(nr_cpus=real.nr_possible_cpus()), INNER_MAP_CASES[name])
    except BpfError as e:
        if "expected=map_ptr" in e.message:
            pytest.skip("the emulated verifier does not type map-in-map lookup results as map pointers yet")
        raise
    assert emulated == _xlated(real, INNER_MAP_CASES[name])
