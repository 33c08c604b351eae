"""Per-CPU storage is lazy: with 4096 possible CPUs, memory follows the CPUs touched."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from harness.kernel import EmulatedKernel
from harness.kernelapi import MapCreateAttr
from harness.uapi import BPF_F_ALL_CPUS, MapType as T

from .mapsutil import cpu_flag, percpu_u32s, u32

NR = 4096
VALUE_SIZE = 64
# A materialised element costs NR * (64-byte slot + ~60 bytes of bytearray) ~ 500 KiB;
# the budget allows a few touched CPUs and bookkeeping, far below one full element.
BUDGET = 48 * 1024


def _retained(work) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        keep = work()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del keep
    return after - before


@pytest.mark.parametrize("map_type", [T.PERCPU_ARRAY, T.PERCPU_HASH, T.LRU_PERCPU_HASH], ids=lambda t: t.name)
def test_memory_grows_with_touched_cpus_only(map_type):
    k = EmulatedKernel(nr_cpus=NR)

    def work():
        fd = k.map_create(MapCreateAttr(map_type, 4, VALUE_SIZE, 4))
        m = k.map_object(fd)
        k.map_update_elem(fd, u32(0), b"\x11" * VALUE_SIZE, BPF_F_ALL_CPUS)   # one image, all CPUs
        for cpu in (0, 17, 4095):
            k.map_update_elem(fd, u32(0), b"\x22" * VALUE_SIZE, cpu_flag(cpu))
        m.prog_lookup(u32(0), 100)[:4] = u32(5)                 # a program touches CPU 100
        whole = k.map_lookup_elem(fd, u32(0))                   # every CPU, built on the fly
        assert len(whole) == NR * VALUE_SIZE
        assert whole[17 * 64:18 * 64] == b"\x22" * 64 and whole[5 * 64:6 * 64] == b"\x11" * 64
        del whole
        k.map_update_elem(fd, u32(1), bytes(NR * VALUE_SIZE))  # all-zero rows stay lazy
        return fd

    assert _retained(work) < BUDGET


def test_untouched_cpus_read_as_zero():
    k = EmulatedKernel(nr_cpus=NR)
    fd = k.map_create(MapCreateAttr(T.PERCPU_ARRAY, 4, 4, 1))
    k.map_update_elem(fd, u32(0), u32(9), cpu_flag(4000))
    vals = percpu_u32s(k.map_lookup_elem(fd, u32(0)), NR)
    assert vals[4000] == 9 and sum(vals) == 9
    assert k.map_lookup_elem(fd, u32(0), cpu_flag(4095)) == u32(0)
