"""Element commands on plain maps: lookup/update/delete/get_next_key, permissions,
freeze, buffer-size decisions, batches with pagination, LRU eviction."""

from __future__ import annotations

import errno

import pytest

from harness.kernelapi import BpfError
from harness.uapi import (BPF_ANY, BPF_EXIST, BPF_F_LOCK, BPF_F_RDONLY, BPF_F_RDONLY_PROG,
                          BPF_F_WRONLY, BPF_NOEXIST, ENOTSUPP, MapType as T)

from .mapsutil import u32, u64

HASHES = [T.HASH, T.PERCPU_HASH, T.LRU_HASH, T.LRU_PERCPU_HASH]


def _err(fn, *args, **kw) -> int:
    with pytest.raises(BpfError) as ei:
        fn(*args, **kw)
    return ei.value.errno


def _vsize(kernel, map_type, value_size=8):
    percpu = map_type in (T.PERCPU_HASH, T.LRU_PERCPU_HASH)
    return (value_size + 7) // 8 * 8 * kernel.nr_possible_cpus() if percpu else value_size


# ------------------------------------------------------------------ arrays
def test_array_roundtrip_and_errnos(kernel, make_map):
    fd = make_map(T.ARRAY, 4, 8, 3)
    assert kernel.map_lookup_elem(fd, u32(2)) == bytes(8)         # elements always exist
    kernel.map_update_elem(fd, u32(2), u64(42))
    assert kernel.map_lookup_elem(fd, u32(2)) == u64(42)
    kernel.map_update_elem(fd, u32(2), u64(43), BPF_EXIST)
    assert _err(kernel.map_update_elem, fd, u32(2), u64(1), BPF_NOEXIST) == errno.EEXIST
    assert _err(kernel.map_update_elem, fd, u32(3), u64(1)) == errno.E2BIG
    assert _err(kernel.map_update_elem, fd, u32(0), u64(1), 3) == errno.EINVAL
    assert _err(kernel.map_lookup_elem, fd, u32(3)) == errno.ENOENT
    assert _err(kernel.map_delete_elem, fd, u32(0)) == errno.EINVAL
    assert _err(kernel.map_lookup_and_delete_elem, fd, u32(0)) == ENOTSUPP
    assert _err(kernel.map_update_elem, fd, u32(0), u64(1), BPF_F_LOCK) == errno.EINVAL


@pytest.mark.parametrize("key,expected", [(None, 0), (0, 1), (1, 2), (7, 0), (0xFFFFFFFF, 0)])
def test_array_get_next_key(kernel, make_map, key, expected):
    fd = make_map(T.ARRAY, 4, 4, 3)
    assert kernel.map_get_next_key(fd, None if key is None else u32(key)) == u32(expected)


def test_array_get_next_key_end(kernel, make_map):
    fd = make_map(T.ARRAY, 4, 4, 3)
    assert _err(kernel.map_get_next_key, fd, u32(2)) == errno.ENOENT


@pytest.mark.parametrize("args,expected", [
    ((b"\0" * 3, u64(0)), errno.EINVAL),      # short key
    ((b"\0" * 5, u64(0)), errno.EINVAL),      # long key
    ((u32(0), b"\0" * 7), errno.EINVAL),      # short value
    ((u32(0), b"\0" * 16), errno.EINVAL),     # long value
    ((None, u64(0)), errno.EFAULT),           # NULL key
])
def test_buffer_sizes_are_exact(kernel, make_map, args, expected):
    fd = make_map(T.ARRAY, 4, 8, 1)
    assert _err(kernel.map_update_elem, fd, *args) == expected


# ------------------------------------------------------------------ hashes
@pytest.mark.parametrize("map_type", HASHES, ids=lambda t: t.name)
def test_hash_existence_flags_and_delete(kernel, make_map, map_type):
    vs = _vsize(kernel, map_type)
    fd = make_map(map_type, 4, 8, 4)
    assert _err(kernel.map_update_elem, fd, u32(1), bytes(vs), BPF_EXIST) == errno.ENOENT
    kernel.map_update_elem(fd, u32(1), b"\1" * vs, BPF_NOEXIST)
    assert _err(kernel.map_update_elem, fd, u32(1), bytes(vs), BPF_NOEXIST) == errno.EEXIST
    kernel.map_update_elem(fd, u32(1), b"\2" * vs, BPF_EXIST)
    assert kernel.map_lookup_elem(fd, u32(1)) == b"\2" * vs
    kernel.map_delete_elem(fd, u32(1))
    assert _err(kernel.map_lookup_elem, fd, u32(1)) == errno.ENOENT
    assert _err(kernel.map_delete_elem, fd, u32(1)) == errno.ENOENT
    assert _err(kernel.map_update_elem, fd, u32(1), bytes(vs), 1 << 5) == errno.EINVAL


def test_hash_full_is_e2big(kernel, make_map):
    fd = make_map(T.HASH, 4, 4, 2)
    kernel.map_update_elem(fd, u32(1), u32(1))
    kernel.map_update_elem(fd, u32(2), u32(2))
    assert _err(kernel.map_update_elem, fd, u32(3), u32(3)) == errno.E2BIG
    kernel.map_update_elem(fd, u32(2), u32(5))                   # existing key: fine


@pytest.mark.parametrize("map_type", HASHES, ids=lambda t: t.name)
def test_hash_get_next_key_order(kernel, make_map, map_type):
    vs = _vsize(kernel, map_type, 4)
    fd = make_map(map_type, 4, 4, 8)
    for k in (5, 3, 9):
        kernel.map_update_elem(fd, u32(k), bytes(vs))
    walk, key = [], None
    while True:
        try:
            key = kernel.map_get_next_key(fd, key)
        except BpfError as e:
            assert e.errno == errno.ENOENT
            break
        walk.append(int.from_bytes(key, "little"))
    assert walk == [5, 3, 9]
    assert kernel.map_get_next_key(fd, u32(77)) == u32(5)        # missing key: restart


def test_hash_get_next_key_empty(kernel, make_map):
    fd = make_map(T.HASH, 4, 4, 8)
    assert _err(kernel.map_get_next_key, fd, None) == errno.ENOENT


@pytest.mark.parametrize("map_type", HASHES, ids=lambda t: t.name)
def test_lookup_and_delete_elem(kernel, make_map, map_type):
    vs = _vsize(kernel, map_type)
    fd = make_map(map_type, 4, 8, 4)
    kernel.map_update_elem(fd, u32(1), b"\3" * vs)
    assert kernel.map_lookup_and_delete_elem(fd, u32(1)) == b"\3" * vs
    assert _err(kernel.map_lookup_and_delete_elem, fd, u32(1)) == errno.ENOENT
    assert _err(kernel.map_lookup_and_delete_elem, fd, u32(1), BPF_F_LOCK) == errno.EINVAL


def test_lru_evicts_least_recently_used(kernel, make_map):
    fd = make_map(T.LRU_HASH, 4, 4, 3)
    m = kernel.map_object(fd)
    for k in (1, 2, 3):
        kernel.map_update_elem(fd, u32(k), u32(k))
    assert m.prog_lookup(u32(1), 0) is not None                  # 1 is now the most recent
    kernel.map_lookup_elem(fd, u32(2))                           # syscall lookup: no reference
    kernel.map_update_elem(fd, u32(4), u32(4))                   # evicts 2
    assert _err(kernel.map_lookup_elem, fd, u32(2)) == errno.ENOENT
    assert [kernel.map_lookup_elem(fd, u32(k)) for k in (1, 3, 4)] == [u32(1), u32(3), u32(4)]
    kernel.map_update_elem(fd, u32(5), u32(5))                   # evicts 3
    assert _err(kernel.map_lookup_elem, fd, u32(3)) == errno.ENOENT


def test_lru_percpu_in_place_update_does_not_evict(kernel, make_map):
    n = kernel.nr_possible_cpus()
    fd = make_map(T.LRU_PERCPU_HASH, 4, 4, n + 1)
    for k in range(n + 1):
        kernel.map_update_elem(fd, u32(k), bytes(8 * n))
    for k in range(n + 1):
        kernel.map_update_elem(fd, u32(k), b"\1" * (8 * n))
    assert kernel.map_lookup_batch(fd, None, 100).count == n + 1


# ------------------------------------------------------------------ permissions and freeze
@pytest.mark.parametrize("map_flags,op,expected", [
    (BPF_F_RDONLY, "update", errno.EPERM), (BPF_F_RDONLY, "delete", errno.EPERM),
    (BPF_F_RDONLY, "lookup", None), (BPF_F_RDONLY, "freeze", errno.EPERM),
    (BPF_F_RDONLY, "update_batch", errno.EPERM),
    (BPF_F_WRONLY, "lookup", errno.EPERM), (BPF_F_WRONLY, "get_next_key", errno.EPERM),
    (BPF_F_WRONLY, "lookup_batch", errno.EPERM), (BPF_F_WRONLY, "update", None),
    (BPF_F_WRONLY, "lookup_and_delete", errno.EPERM),
    (BPF_F_RDONLY_PROG, "update", None), (BPF_F_RDONLY_PROG, "lookup", None),
])
def test_syscall_access_flags(kernel, make_map, map_flags, op, expected):
    fd = make_map(T.HASH, 4, 4, 4, map_flags=map_flags)
    calls = {
        "update": lambda: kernel.map_update_elem(fd, u32(1), u32(1)),
        "delete": lambda: kernel.map_delete_elem(fd, u32(1)),
        "lookup": lambda: kernel.map_lookup_elem(fd, u32(1)),
        "get_next_key": lambda: kernel.map_get_next_key(fd, None),
        "lookup_batch": lambda: kernel.map_lookup_batch(fd, None, 4),
        "update_batch": lambda: kernel.map_update_batch(fd, u32(1), u32(1), 1),
        "lookup_and_delete": lambda: kernel.map_lookup_and_delete_elem(fd, u32(1)),
        "freeze": lambda: kernel.map_freeze(fd),
    }
    if expected is None:
        try:
            calls[op]()
        except BpfError as e:          # a permitted call may still find no element
            assert e.errno == errno.ENOENT
    else:
        assert _err(calls[op]) == expected


def test_freeze(kernel, make_map):
    fd = make_map(T.ARRAY, 4, 8, 1, map_flags=BPF_F_RDONLY_PROG)
    kernel.map_update_elem(fd, u32(0), u64(7))
    kernel.map_freeze(fd)
    m = kernel.map_object(fd)
    assert m.frozen and m.rdonly_prog
    assert _err(kernel.map_update_elem, fd, u32(0), u64(8)) == errno.EPERM
    assert _err(kernel.map_update_batch, fd, u32(0), u64(8), 1) == errno.EPERM
    assert _err(kernel.map_freeze, fd) == errno.EPERM           # no longer writable
    assert kernel.map_lookup_elem(fd, u32(0)) == u64(7)
    assert m.prog_update(u32(0), u64(9), BPF_ANY, 0) == 0       # programs are not affected


# ------------------------------------------------------------------ batches
@pytest.mark.parametrize("map_type", [T.ARRAY, T.PERCPU_ARRAY, *HASHES], ids=lambda t: t.name)
@pytest.mark.parametrize("page", [1, 2, 3, 7, 100])
def test_lookup_batch_pagination(kernel, make_map, map_type, page):
    n = 7
    fd = make_map(map_type, 4, 4, n)
    percpu = map_type in (T.PERCPU_ARRAY, T.PERCPU_HASH, T.LRU_PERCPU_HASH)
    stride = 8 * kernel.nr_possible_cpus() if percpu else 4
    values = b"".join((u32(100 + i) + bytes(4)) * kernel.nr_possible_cpus() if percpu else u32(100 + i)
                      for i in range(n))
    assert kernel.map_update_batch(fd, b"".join(u32(i) for i in range(n)), values, n) == n
    seen, token, calls = {}, None, 0
    while True:
        res = kernel.map_lookup_batch(fd, token, page)
        calls += 1
        assert res.count <= page and len(res.keys) == 4 * res.count and len(res.values) == stride * res.count
        for i in range(res.count):
            seen[int.from_bytes(res.keys[4 * i:4 * i + 4], "little")] = res.values[stride * i:stride * i + 4]
        if res.out_batch is None:
            break
        token = res.out_batch
        assert calls < 50
    assert seen == {i: u32(100 + i) for i in range(n)}


@pytest.mark.parametrize("map_type", HASHES, ids=lambda t: t.name)
def test_lookup_and_delete_batch_drains(kernel, make_map, map_type):
    vs = _vsize(kernel, map_type, 4)
    fd = make_map(map_type, 4, 4, 8)
    for k in range(5):
        kernel.map_update_elem(fd, u32(k), bytes(vs))
    res = kernel.map_lookup_and_delete_batch(fd, None, 3)
    assert res.count == 3 and res.out_batch is not None
    res2 = kernel.map_lookup_and_delete_batch(fd, res.out_batch, 3)
    assert res2.count == 2 and res2.out_batch is None
    assert _err(kernel.map_get_next_key, fd, None) == errno.ENOENT


@pytest.mark.parametrize("map_type", [T.ARRAY, T.PERCPU_ARRAY], ids=lambda t: t.name)
def test_arrays_have_no_lookup_and_delete_batch(kernel, make_map, map_type):
    fd = make_map(map_type, 4, 4, 2)
    assert _err(kernel.map_lookup_and_delete_batch, fd, None, 2) == ENOTSUPP


def test_update_batch_partial_failure_reports_count(kernel, make_map):
    fd = make_map(T.HASH, 4, 4, 2)
    keys = b"".join(u32(i) for i in range(3))
    with pytest.raises(BpfError) as ei:
        kernel.map_update_batch(fd, keys, bytes(12), 3)
    assert ei.value.errno == errno.E2BIG and ei.value.count == 2


def test_delete_batch(kernel, make_map):
    fd = make_map(T.HASH, 4, 4, 4)
    for k in range(3):
        kernel.map_update_elem(fd, u32(k), u32(k))
    assert kernel.map_delete_batch(fd, u32(0) + u32(2), 2) == 2
    assert kernel.map_get_next_key(fd, None) == u32(1)
    with pytest.raises(BpfError) as ei:
        kernel.map_delete_batch(fd, u32(1) + u32(9), 2)
    assert ei.value.errno == errno.ENOENT and ei.value.count == 1
    assert _err(kernel.map_delete_batch, fd, u32(1), 1, elem_flags=8) == errno.EINVAL


@pytest.mark.parametrize("args,expected", [
    ((b"\0" * 7, bytes(8), 2), errno.EINVAL),     # keys not count * key_size
    ((b"\0" * 8, bytes(7), 2), errno.EINVAL),     # values not count * value size
])
def test_batch_buffer_sizes(kernel, make_map, args, expected):
    fd = make_map(T.HASH, 4, 4, 4)
    assert _err(kernel.map_update_batch, fd, *args) == expected


def test_batch_flags(kernel, make_map):
    """The hash lookup batch refuses batch.flags; the generic (array) one ignores them
    (both observed on a 6.18 kernel)."""
    fd = make_map(T.ARRAY, 4, 4, 2)
    assert kernel.map_lookup_batch(fd, None, 2, 0, 1).count == 2
    fd = make_map(T.HASH, 4, 4, 2)
    assert _err(kernel.map_lookup_batch, fd, None, 2, 0, 1) == errno.EINVAL


@pytest.mark.parametrize("map_type,op,expected", [
    (T.ARRAY, "delete", ENOTSUPP), (T.PERCPU_ARRAY, "delete", ENOTSUPP),
    (T.ARRAY, "lookup_and_delete", ENOTSUPP), (T.HASH, "delete", errno.ENOENT),
    (T.QUEUE, "lookup", ENOTSUPP), (T.RINGBUF, "lookup", ENOTSUPP), (T.PROG_ARRAY, "update", ENOTSUPP),
])
def test_batch_support_per_type(kernel, make_map, map_type, op, expected):
    sizes = {T.QUEUE: (0, 4, 2), T.RINGBUF: (0, 0, 4096)}.get(map_type, (4, 4, 2))
    fd = make_map(map_type, *sizes)
    calls = {"delete": lambda: kernel.map_delete_batch(fd, u32(0), 1),
             "lookup_and_delete": lambda: kernel.map_lookup_and_delete_batch(fd, None, 1),
             "lookup": lambda: kernel.map_lookup_batch(fd, None, 1),
             "update": lambda: kernel.map_update_batch(fd, u32(0), u32(0), 1)}
    assert _err(calls[op]) == expected


@pytest.mark.parametrize("fd", [0, 1, 2])
def test_standard_fds_are_not_maps(kernel, fd):
    assert _err(kernel.map_lookup_elem, fd, u32(0)) == errno.EINVAL


def test_batch_count_zero(kernel, make_map):
    fd = make_map(T.ARRAY, 4, 4, 2)
    res = kernel.map_lookup_batch(fd, None, 0)
    assert res.count == 0 and res.keys == b""
    assert kernel.map_update_batch(fd, b"", b"", 0) == 0
