"""The program-side API of map objects (what the VM's helpers call), documented in
harness/kernel/maps/base.py."""

from __future__ import annotations

import errno

import pytest

from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernel.core import ALL_FEATURES
from harness.kernelapi import BpfError, MapCreateAttr
from harness.uapi import (BPF_ANY, BPF_EXIST, BPF_F_ALL_CPUS, BPF_F_LOCK, BPF_NOEXIST, ENOTSUPP,
                          MapType as T)

from .mapsutil import cpu_flag, percpu_u32s, u32, u64


def _map(kernel, *args, **kw):
    fd = kernel.map_create(MapCreateAttr(*args, **kw))
    return fd, kernel.map_object(fd)


def test_array_live_storage(kernel):
    fd, m = _map(kernel, T.ARRAY, 4, 8, 2)
    s = m.prog_lookup(u32(1), 0)
    assert isinstance(s, bytearray) and len(s) == 8
    assert m.prog_lookup(u32(1), 3) is s                       # same object every call
    s[0:8] = u64(0x1122)
    assert kernel.map_lookup_elem(fd, u32(1)) == u64(0x1122)   # writes go to the map
    kernel.map_update_elem(fd, u32(1), u64(5))
    assert bytes(s) == u64(5)                                  # and updates are seen
    assert m.prog_lookup(u32(2), 0) is None


@pytest.mark.parametrize("map_type", [T.PERCPU_ARRAY, T.PERCPU_HASH, T.LRU_PERCPU_HASH], ids=lambda t: t.name)
def test_percpu_prog_update_writes_current_cpu_only(kernel, map_type):
    fd, m = _map(kernel, map_type, 4, 4, 4)
    assert m.prog_update(u32(0), u32(0xDEADC0DE), BPF_ANY, 2) == 0
    assert percpu_u32s(kernel.map_lookup_elem(fd, u32(0)), 4) == [0, 0, 0xDEADC0DE, 0]
    s = m.prog_lookup(u32(0), 2)
    assert len(s) == 8 and s[:4] == u32(0xDEADC0DE) and m.prog_lookup(u32(0), 2) is s
    assert m.prog_lookup_percpu(u32(0), 2) is s
    assert m.prog_lookup_percpu(u32(0), 4) is None              # target_cpu >= nr_cpus
    assert m.prog_lookup(u32(0), 1)[:4] == u32(0)
    kernel.map_update_elem(fd, u32(0), u32(7), cpu_flag(2))
    assert s[:4] == u32(7)                                      # syscall writes are seen live


@pytest.mark.parametrize("map_type,flags,expected", [
    (T.PERCPU_ARRAY, BPF_F_ALL_CPUS, -errno.EINVAL),            # CPU flags are syscall-only
    (T.PERCPU_ARRAY, BPF_NOEXIST, -errno.EEXIST),
    (T.PERCPU_ARRAY, BPF_F_LOCK, -errno.EINVAL),
    (T.PERCPU_HASH, BPF_F_ALL_CPUS, -errno.EINVAL),
    (T.PERCPU_HASH, BPF_F_LOCK, -errno.EINVAL),
    (T.PERCPU_HASH, BPF_EXIST, -errno.ENOENT),
    (T.HASH, BPF_F_LOCK, -errno.EINVAL),                        # no spin lock in the value
    (T.HASH, 8, -errno.EINVAL),
    (T.ARRAY, BPF_EXIST, 0),
    (T.LRU_HASH, BPF_F_LOCK, -errno.EINVAL),
])
def test_prog_update_flag_rules(kernel, map_type, flags, expected):
    _, m = _map(kernel, map_type, 4, 4, 4)
    assert m.prog_update(u32(1), u32(1), flags, 0) == expected


def test_prog_delete(kernel):
    _, h = _map(kernel, T.HASH, 4, 4, 4)
    assert h.prog_delete(u32(1), 0) == -errno.ENOENT
    h.prog_update(u32(1), u32(1), BPF_ANY, 0)
    assert h.prog_delete(u32(1), 0) == 0 and h.prog_lookup(u32(1), 0) is None
    _, a = _map(kernel, T.ARRAY, 4, 4, 4)
    assert a.prog_delete(u32(1), 0) == -errno.EINVAL


def test_prog_iter_and_iter_elems(kernel):
    fd, m = _map(kernel, T.PERCPU_ARRAY, 4, 4, 2)
    kernel.map_update_elem(fd, u32(1), u32(0xc0de), BPF_F_ALL_CPUS)
    items = list(m.iter_elems())
    assert [k for k, _ in items] == [u32(0), u32(1)]
    assert percpu_u32s(items[1][1], 4) == [0xc0de] * 4            # elem_size stride (§2.4)
    live = dict(m.prog_iter(3))
    live[u32(0)][0:4] = u32(9)
    assert kernel.map_lookup_elem(fd, u32(0), cpu_flag(3)) == u32(9)
    _, h = _map(kernel, T.HASH, 4, 4, 4)
    h.prog_update(u32(5), u32(6), BPF_ANY, 0)
    assert list(h.iter_elems()) == [(u32(5), u32(6))]


# ------------------------------------------------------------------ direct value access
def test_array_direct_value_addr(kernel):
    _, m = _map(kernel, T.ARRAY, 4, 16, 1)
    assert m.direct_value_addr(8) is m.prog_lookup(u32(0), 0)
    with pytest.raises(BpfError) as ei:
        m.direct_value_addr(16)
    assert ei.value.errno == errno.EINVAL
    _, many = _map(kernel, T.ARRAY, 4, 16, 2)
    with pytest.raises(BpfError) as ei:
        many.direct_value_addr(0)
    assert ei.value.errno == ENOTSUPP


FULL = ALL_FEATURES
ROWS = [
    ("ok", FULL, 1, 0, None),
    ("off at value_size", FULL, 1, 12, errno.EINVAL),
    ("max_entries 2", FULL, 2, 0, errno.EOPNOTSUPP),
    ("no percpu jit", FULL - {"jit_percpu_insn"}, 1, 0, errno.EOPNOTSUPP),
    ("pre-series kernel", FULL - {"percpu_data"}, 1, 0, errno.EINVAL),
]


@pytest.mark.parametrize("features,entries,off,expected", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_percpu_array_direct_value_addr(features, entries, off, expected):
    k = EmulatedKernel(KernelConfig(nr_cpus=4, features=features))
    _, m = _map(k, T.PERCPU_ARRAY, 4, 12, entries)
    if expected is None:
        assert m.direct_value_addr(off) is None          # a per-CPU cookie, not memory
        s = m.percpu_elem(0, 3)
        assert len(s) == 16 and m.percpu_elem(0, 3) is s and m.prog_lookup(u32(0), 3) is s
        return
    with pytest.raises(BpfError) as ei:
        m.direct_value_addr(off)
    assert ei.value.errno == expected
    if features == FULL - {"percpu_data"}:
        assert ei.value.message == "no direct value access support for this map type"


def test_other_maps_have_no_direct_value_access(kernel):
    _, m = _map(kernel, T.HASH, 4, 4, 1)
    with pytest.raises(BpfError) as ei:
        m.direct_value_addr(0)
    assert ei.value.errno == errno.EINVAL
    assert ei.value.message == "no direct value access support for this map type"
