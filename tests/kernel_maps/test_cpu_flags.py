"""BPF_F_CPU / BPF_F_ALL_CPUS on the syscall side: the errno matrix of upstream-spec §1.7
and the selftest routine of §6.3 (test_percpu_map_op_cpu_flag), element and batch."""

from __future__ import annotations

import errno

import pytest

from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernel.core import ALL_FEATURES
from harness.kernelapi import BpfError, MapCreateAttr
from harness.uapi import (BPF_ANY, BPF_EXIST, BPF_F_ALL_CPUS, BPF_F_CPU, BPF_F_LOCK, BPF_NOEXIST,
                          MapType)

from .mapsutil import cpu_flag, percpu_u32s, u32

NR_CPUS = 4
PERCPU_TYPES = [MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH]


def _kernel(**kw):
    return EmulatedKernel(KernelConfig(nr_cpus=NR_CPUS, **kw))


def _percpu_map(k, map_type, entries=NR_CPUS + 1, value_size=4):
    """Like the selftest: max_entries = nr_cpus + 1, keys 0..nr_cpus-1 (hash maps get them)."""
    fd = k.map_create(MapCreateAttr(map_type, 4, value_size, entries))
    if map_type != MapType.PERCPU_ARRAY:
        for i in range(NR_CPUS):
            k.map_update_elem(fd, u32(i), bytes(8 * NR_CPUS))
    return fd


def _call(k, fd, op, flags):
    """One syscall of the errno matrix with correctly sized buffers for `flags`."""
    vs = 4 if flags & (BPF_F_CPU | BPF_F_ALL_CPUS) else 8 * NR_CPUS
    if op == "lookup":
        return k.map_lookup_elem(fd, u32(0), flags)
    if op == "update":
        return k.map_update_elem(fd, u32(0), bytes(vs), flags)
    if op == "lookup_batch":
        return k.map_lookup_batch(fd, None, 2, elem_flags=flags)
    if op == "update_batch":
        return k.map_update_batch(fd, u32(0) + u32(1), bytes(2 * vs), 2, elem_flags=flags)
    raise AssertionError(op)


# (description, op, flags, expected errno or None for success)  -- spec §1.7
MATRIX = [
    ("both flags, lookup (mask)", "lookup", BPF_F_CPU | BPF_F_ALL_CPUS, errno.EINVAL),
    ("both flags, update", "update", BPF_F_CPU | BPF_F_ALL_CPUS, errno.EINVAL),
    ("both flags, update_batch", "update_batch", BPF_F_CPU | BPF_F_ALL_CPUS, errno.EINVAL),
    ("ALL_CPUS on lookup", "lookup", BPF_F_ALL_CPUS, errno.EINVAL),
    ("ALL_CPUS on lookup_batch", "lookup_batch", BPF_F_ALL_CPUS, errno.EINVAL),
    ("cpu >= nr_cpus lookup", "lookup", cpu_flag(NR_CPUS), errno.ERANGE),
    ("cpu >= nr_cpus update", "update", cpu_flag(NR_CPUS), errno.ERANGE),
    ("cpu >= nr_cpus update_batch", "update_batch", cpu_flag(NR_CPUS), errno.ERANGE),
    ("cpu >= nr_cpus lookup_batch", "lookup_batch", cpu_flag(NR_CPUS), errno.ERANGE),
    ("huge cpu", "update", cpu_flag(0xFFFFFFFF), errno.ERANGE),
    ("upper bits without CPU, lookup", "lookup", 1 << 32, errno.EINVAL),
    ("upper bits without CPU, update", "update", 1 << 32, errno.EINVAL),
    ("upper bits with ALL_CPUS", "update", (1 << 32) | BPF_F_ALL_CPUS, errno.EINVAL),
    ("LOCK|CPU lookup, no spin lock", "lookup", cpu_flag(0, BPF_F_LOCK), errno.EINVAL),
    ("LOCK|CPU update, no spin lock", "update", cpu_flag(0, BPF_F_LOCK), errno.EINVAL),
    ("LOCK|ALL_CPUS update", "update", BPF_F_LOCK | BPF_F_ALL_CPUS, errno.EINVAL),
    ("LOCK alone on lookup", "lookup", BPF_F_LOCK, errno.EINVAL),
    ("unknown low bit on lookup", "lookup", 1 << 5, errno.EINVAL),
    ("unknown low bit on update", "update", 1 << 5, errno.EINVAL),
    ("EXIST|ALL_CPUS = 18 on update", "update", BPF_EXIST | BPF_F_ALL_CPUS, errno.EINVAL),
    ("cpu == nr_cpus-1 lookup ok", "lookup", cpu_flag(NR_CPUS - 1), None),
    ("ALL_CPUS update ok", "update", BPF_F_ALL_CPUS, None),
    ("CPU update ok", "update", cpu_flag(1), None),
    ("CPU update_batch ok", "update_batch", cpu_flag(3), None),
    ("ALL_CPUS update_batch ok", "update_batch", BPF_F_ALL_CPUS, None),
    ("CPU lookup_batch ok", "lookup_batch", cpu_flag(2), None),
    ("no flags update ok", "update", BPF_ANY, None),
]


@pytest.mark.parametrize("map_type", PERCPU_TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("desc,op,flags,expected", MATRIX, ids=[row[0] for row in MATRIX])
def test_percpu_errno_matrix(map_type, desc, op, flags, expected):
    k = _kernel()
    fd = _percpu_map(k, map_type)
    if expected is None:
        _call(k, fd, op, flags)
        return
    with pytest.raises(BpfError) as ei:
        _call(k, fd, op, flags)
    assert ei.value.errno == expected, ei.value


@pytest.mark.parametrize("map_type", [MapType.ARRAY, MapType.HASH], ids=lambda t: t.name)
@pytest.mark.parametrize("op,flags", [
    ("update", BPF_F_ALL_CPUS), ("update_batch", BPF_F_ALL_CPUS), ("lookup", cpu_flag(0)),
    ("lookup_batch", cpu_flag(0)), ("update", cpu_flag(0)), ("lookup", cpu_flag(99)),
])
def test_cpu_flags_on_non_percpu_maps(map_type, op, flags):
    """cpu_flag_array / cpu_flag_hash: value 8 bytes, 1 entry -> EINVAL (step 4a), even
    for an out-of-range CPU (4a comes before 4c)."""
    k = _kernel()
    fd = k.map_create(MapCreateAttr(map_type, 4, 8, 1, map_name="test_cpu_flag"))
    k.map_update_elem(fd, u32(0), bytes(8))
    with pytest.raises(BpfError) as ei:
        if op == "lookup":
            k.map_lookup_elem(fd, u32(0), flags)
        elif op == "update":
            k.map_update_elem(fd, u32(0), bytes(8), flags)
        elif op == "lookup_batch":
            k.map_lookup_batch(fd, None, 1, elem_flags=flags)
        else:
            k.map_update_batch(fd, u32(0), bytes(8), 1, elem_flags=flags)
    assert ei.value.errno == errno.EINVAL


@pytest.mark.parametrize("flags,expected", [
    (BPF_NOEXIST, errno.EEXIST),                       # elements always exist
    (cpu_flag(0, BPF_NOEXIST), None),                  # = 9: only the exact 1 is EEXIST
    (BPF_EXIST, None),
])
def test_percpu_array_existence_flags(flags, expected):
    k = _kernel()
    fd = _percpu_map(k, MapType.PERCPU_ARRAY)
    size = 4 if flags & BPF_F_CPU else 8 * NR_CPUS
    if expected is None:
        k.map_update_elem(fd, u32(0), bytes(size), flags)
    else:
        with pytest.raises(BpfError) as ei:
            k.map_update_elem(fd, u32(0), bytes(size), flags)
        assert ei.value.errno == expected


@pytest.mark.parametrize("op,expected", [("update", errno.E2BIG), ("lookup", errno.ENOENT)])
def test_percpu_array_index_out_of_range(op, expected):
    k = _kernel()
    fd = _percpu_map(k, MapType.PERCPU_ARRAY, entries=2)
    with pytest.raises(BpfError) as ei:
        if op == "update":
            k.map_update_elem(fd, u32(2), u32(1), BPF_F_ALL_CPUS)
        else:
            k.map_lookup_elem(fd, u32(2), cpu_flag(0))
    assert ei.value.errno == expected


@pytest.mark.parametrize("flags,size", [
    (cpu_flag(0), 8 * NR_CPUS), (BPF_F_ALL_CPUS, 8 * NR_CPUS), (0, 4), (0, 4 * NR_CPUS),
])
def test_value_size_follows_flags(flags, size):
    """§1.6: value_size with a CPU flag, round_up(value_size, 8) * ncpus without."""
    k = _kernel()
    fd = _percpu_map(k, MapType.PERCPU_ARRAY)
    with pytest.raises(BpfError) as ei:
        k.map_update_elem(fd, u32(0), bytes(size), flags)
    assert ei.value.errno == errno.EINVAL


@pytest.mark.parametrize("value_size", [4, 5, 8, 12])
def test_lookup_sizes(value_size):
    k = _kernel()
    fd = _percpu_map(k, MapType.PERCPU_ARRAY, value_size=value_size)
    elem = (value_size + 7) // 8 * 8
    assert len(k.map_lookup_elem(fd, u32(0))) == elem * NR_CPUS
    assert len(k.map_lookup_elem(fd, u32(0), cpu_flag(1))) == value_size


@pytest.mark.parametrize("map_type", PERCPU_TYPES, ids=lambda t: t.name)
def test_lookup_and_delete_rejects_cpu_flags(map_type):
    k = _kernel()
    fd = _percpu_map(k, map_type)
    with pytest.raises(BpfError) as ei:
        k.map_lookup_and_delete_elem(fd, u32(0), cpu_flag(0))
    assert ei.value.errno == errno.EINVAL


@pytest.mark.parametrize("map_type", [MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH], ids=lambda t: t.name)
def test_lookup_and_delete_batch_rejects_cpu_flag(map_type):
    """§1.5: htab lookup_and_delete_batch never takes BPF_F_CPU."""
    k = _kernel()
    fd = _percpu_map(k, map_type)
    with pytest.raises(BpfError) as ei:
        k.map_lookup_and_delete_batch(fd, None, 4, elem_flags=cpu_flag(0))
    assert ei.value.errno == errno.EINVAL


@pytest.mark.parametrize("op", ["lookup", "update"])
def test_kernel_without_cpu_flags_feature(op):
    """A kernel before the series treats the flags as unknown bits: EINVAL."""
    k = _kernel(features=ALL_FEATURES - {"cpu_flags"})
    fd = _percpu_map(k, MapType.PERCPU_ARRAY)
    with pytest.raises(BpfError) as ei:
        _call(k, fd, op, cpu_flag(0))
    assert ei.value.errno == errno.EINVAL


# ---------------------------------------------------------------------------------------
# test_percpu_map_op_cpu_flag (spec §6.3), entries = nr_cpus, value_sz 4

MAGIC = 0xDEADC0DE


@pytest.mark.parametrize("map_type", PERCPU_TYPES, ids=lambda t: t.name)
def test_selftest_element_ops(map_type):
    k = _kernel()
    fd = _percpu_map(k, map_type)
    keys = [u32(i) for i in range(NR_CPUS)]
    for cpu in range(NR_CPUS):
        for key in keys:
            k.map_update_elem(fd, key, u32(0), BPF_F_ALL_CPUS)
        for key in keys:
            k.map_update_elem(fd, key, u32(MAGIC), cpu_flag(cpu))
            for j in range(NR_CPUS):
                got = k.map_lookup_elem(fd, key, cpu_flag(j))
                assert got == u32(MAGIC if j == cpu else 0), (cpu, j)
            assert percpu_u32s(k.map_lookup_elem(fd, key), NR_CPUS) == \
                [MAGIC if j == cpu else 0 for j in range(NR_CPUS)]


@pytest.mark.parametrize("map_type", PERCPU_TYPES, ids=lambda t: t.name)
def test_selftest_batch_ops(map_type):
    k = _kernel()
    fd = _percpu_map(k, map_type)
    n = NR_CPUS
    keys = b"".join(u32(i) for i in range(n))
    with pytest.raises(BpfError) as ei:
        k.map_update_batch(fd, keys, bytes(4 * n), n, elem_flags=cpu_flag(n))
    assert ei.value.errno == errno.ERANGE
    for cpu in range(n):
        assert k.map_update_batch(fd, keys, bytes(4 * n), n, elem_flags=BPF_F_ALL_CPUS) == n
        assert k.map_update_batch(fd, keys, u32(MAGIC) * n, n, elem_flags=cpu_flag(cpu)) == n
        res = k.map_lookup_batch(fd, None, n, elem_flags=cpu_flag(cpu))
        assert res.count == n and res.values == u32(MAGIC) * n      # 4-byte stride
        res = k.map_lookup_batch(fd, None, n)
        assert res.count == n and len(res.values) == 8 * n * n
        for row in range(n):
            cols = percpu_u32s(res.values[8 * n * row:8 * n * (row + 1)], n)
            assert cols == [MAGIC if j == cpu else 0 for j in range(n)]


@pytest.mark.parametrize("map_type", PERCPU_TYPES, ids=lambda t: t.name)
def test_all_cpus_replicates_and_plain_update_strides_by_cpu(map_type):
    k = _kernel()
    fd = _percpu_map(k, map_type)
    k.map_update_elem(fd, u32(1), u32(7), BPF_F_ALL_CPUS)
    assert percpu_u32s(k.map_lookup_elem(fd, u32(1)), NR_CPUS) == [7] * NR_CPUS
    value = b"".join(u32(100 + c) + u32(0) for c in range(NR_CPUS))
    k.map_update_elem(fd, u32(1), value)
    assert [k.map_lookup_elem(fd, u32(1), cpu_flag(c)) for c in range(NR_CPUS)] == \
        [u32(100 + c) for c in range(NR_CPUS)]


@pytest.mark.parametrize("map_type", PERCPU_TYPES, ids=lambda t: t.name)
def test_padding_is_never_written(map_type):
    """§2.1: user-supplied padding bytes (value_size..8) are not copied; reads show zeros."""
    k = _kernel()
    fd = _percpu_map(k, map_type, value_size=5)
    value = b"".join(bytes([c + 1] * 5) + b"\xff\xff\xff" for c in range(NR_CPUS))
    k.map_update_elem(fd, u32(0), value)
    got = k.map_lookup_elem(fd, u32(0))
    assert got == b"".join(bytes([c + 1] * 5) + b"\0\0\0" for c in range(NR_CPUS))
    k.map_update_elem(fd, u32(0), b"\x09" * 5, BPF_F_ALL_CPUS)
    assert k.map_lookup_elem(fd, u32(0)) == (b"\x09" * 5 + b"\0\0\0") * NR_CPUS


def test_new_hash_element_with_cpu_flag_zeroes_other_cpus():
    """Decision for open question §10.2: only the named CPU is written, the rest are zero."""
    k = _kernel()
    fd = k.map_create(MapCreateAttr(MapType.PERCPU_HASH, 4, 4, 4))
    k.map_update_elem(fd, u32(9), u32(5), cpu_flag(2))
    assert percpu_u32s(k.map_lookup_elem(fd, u32(9)), NR_CPUS) == [0, 0, 5, 0]


@pytest.mark.parametrize("flags,expected", [
    (cpu_flag(0, BPF_NOEXIST), None),       # 9 != 1: existence not checked (§10.3)
    (BPF_NOEXIST, errno.EEXIST),
    (BPF_EXIST | BPF_F_ALL_CPUS, errno.EINVAL),
])
def test_percpu_hash_existence_flags(flags, expected):
    k = _kernel()
    fd = _percpu_map(k, MapType.PERCPU_HASH)
    size = 4 if flags & (BPF_F_CPU | BPF_F_ALL_CPUS) else 8 * NR_CPUS
    if expected is None:
        k.map_update_elem(fd, u32(0), bytes(size), flags)
    else:
        with pytest.raises(BpfError) as ei:
            k.map_update_elem(fd, u32(0), bytes(size), flags)
        assert ei.value.errno == expected


@pytest.mark.parametrize("map_type", PERCPU_TYPES, ids=lambda t: t.name)
def test_pre_series_kernel_copies_whole_slots(map_type):
    """Without the series (no "cpu_flags"), a no-flag update copies each CPU's 8-byte slot
    (copy_map_value_long), padding included — what a 6.18 kernel does; and flags beyond
    BPF_EXIST are refused."""
    k = _kernel(features=ALL_FEATURES - {"cpu_flags"})
    fd = _percpu_map(k, map_type, value_size=5)
    value = b"".join(bytes([c + 1] * 5) + b"\xff\xff\xff" for c in range(NR_CPUS))
    k.map_update_elem(fd, u32(0), value)
    assert k.map_lookup_elem(fd, u32(0)) == value
    with pytest.raises(BpfError) as ei:
        k.map_update_elem(fd, u32(0), value, BPF_NOEXIST | BPF_EXIST)
    assert ei.value.errno == errno.EINVAL
