"""BPF_MAP_CREATE validation: the errno of each refused attribute combination."""

from __future__ import annotations

import errno

import pytest

from harness.kernel import EmulatedKernel
from harness.kernelapi import BpfError, MapCreateAttr
from harness.uapi import (BPF_F_INNER_MAP, BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC,
                          BPF_F_NUMA_NODE, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY, BPF_F_RDONLY_PROG,
                          BPF_F_WRONLY, BPF_F_WRONLY_PROG, ENOTSUPP, MapType as T)

A = MapCreateAttr
OK = None

# (id, attr, expected errno or None)
ROWS = [
    ("array ok", A(T.ARRAY, 4, 8, 10), OK),
    ("array key 8", A(T.ARRAY, 8, 8, 10), errno.EINVAL),
    ("array value 0", A(T.ARRAY, 4, 0, 10), errno.EINVAL),
    ("array max 0", A(T.ARRAY, 4, 8, 0), errno.EINVAL),
    ("array mmapable", A(T.ARRAY, 4, 8, 1, map_flags=BPF_F_MMAPABLE), OK),
    ("array rdonly_prog", A(T.ARRAY, 4, 8, 1, map_flags=BPF_F_RDONLY_PROG), OK),
    ("array rdonly+wronly prog", A(T.ARRAY, 4, 8, 1, map_flags=BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG), errno.EINVAL),
    ("array no_prealloc", A(T.ARRAY, 4, 8, 1, map_flags=BPF_F_NO_PREALLOC), errno.EINVAL),
    ("array preserve_elems", A(T.ARRAY, 4, 8, 1, map_flags=BPF_F_PRESERVE_ELEMS), errno.EINVAL),
    ("array value > INT_MAX", A(T.ARRAY, 4, 1 << 31, 1), errno.E2BIG),
    ("percpu_array ok", A(T.PERCPU_ARRAY, 4, 8, 1), OK),
    ("percpu_array mmapable", A(T.PERCPU_ARRAY, 4, 8, 1, map_flags=BPF_F_MMAPABLE), errno.EINVAL),
    ("percpu_array inner_map flag", A(T.PERCPU_ARRAY, 4, 8, 1, map_flags=BPF_F_INNER_MAP), errno.EINVAL),
    ("percpu_array rdonly_prog", A(T.PERCPU_ARRAY, 4, 8, 1, map_flags=BPF_F_RDONLY_PROG), OK),
    ("percpu_array 32 KiB", A(T.PERCPU_ARRAY, 4, 32768, 1), OK),
    ("percpu_array 32761 rounds to 32 KiB", A(T.PERCPU_ARRAY, 4, 32761, 1), OK),
    ("percpu_array 32 KiB + 1", A(T.PERCPU_ARRAY, 4, 32769, 1), errno.E2BIG),
    ("percpu_array numa", A(T.PERCPU_ARRAY, 4, 8, 1, map_flags=BPF_F_NUMA_NODE), errno.EINVAL),
    ("hash ok", A(T.HASH, 16, 8, 10), OK),
    ("hash key 0", A(T.HASH, 0, 8, 10), errno.EINVAL),
    ("hash value 0", A(T.HASH, 4, 0, 10), errno.EINVAL),
    ("hash max 0", A(T.HASH, 4, 8, 0), errno.EINVAL),
    ("hash mmapable", A(T.HASH, 4, 8, 1, map_flags=BPF_F_MMAPABLE), errno.EINVAL),
    ("hash no_common_lru", A(T.HASH, 4, 8, 1, map_flags=BPF_F_NO_COMMON_LRU), errno.EINVAL),
    ("hash huge", A(T.HASH, 4, 4 << 20, 1), errno.E2BIG),
    ("percpu_hash 32 KiB + 8", A(T.PERCPU_HASH, 4, 32776, 1), errno.E2BIG),
    ("lru no_prealloc", A(T.LRU_HASH, 4, 8, 4, map_flags=BPF_F_NO_PREALLOC), ENOTSUPP),
    ("lru no_common_lru", A(T.LRU_HASH, 4, 8, 4, map_flags=BPF_F_NO_COMMON_LRU), OK),
    ("lru_percpu 32 KiB + 8", A(T.LRU_PERCPU_HASH, 4, 32776, 1), errno.E2BIG),
    ("prog_array ok", A(T.PROG_ARRAY, 4, 4, 4), OK),
    ("prog_array value 8", A(T.PROG_ARRAY, 4, 8, 4), errno.EINVAL),
    ("prog_array rdonly_prog", A(T.PROG_ARRAY, 4, 4, 4, map_flags=BPF_F_RDONLY_PROG), errno.EINVAL),
    ("ringbuf ok", A(T.RINGBUF, 0, 0, 4096), OK),
    ("ringbuf 3 pages", A(T.RINGBUF, 0, 0, 3 * 4096), errno.EINVAL),
    ("ringbuf half page", A(T.RINGBUF, 0, 0, 2048), errno.EINVAL),
    ("ringbuf key 4", A(T.RINGBUF, 4, 0, 4096), errno.EINVAL),
    ("ringbuf mmapable", A(T.RINGBUF, 0, 0, 4096, map_flags=BPF_F_MMAPABLE), errno.EINVAL),
    ("cgroup storage ok", A(T.PERCPU_CGROUP_STORAGE, 16, 4, 0), OK),
    ("cgroup storage max_entries", A(T.PERCPU_CGROUP_STORAGE, 16, 4, 1), errno.EINVAL),
    ("cgroup storage key 4", A(T.PERCPU_CGROUP_STORAGE, 4, 4, 0), errno.EINVAL),
    ("cgroup storage too big", A(T.PERCPU_CGROUP_STORAGE, 16, 32769, 0), errno.E2BIG),
    ("queue ok", A(T.QUEUE, 0, 4, 4), OK),
    ("queue with key", A(T.QUEUE, 4, 4, 4), errno.EINVAL),
    ("stack max 0", A(T.STACK, 0, 4, 0), errno.EINVAL),
    ("unsupported bloom filter", A(T.BLOOM_FILTER, 0, 4, 4), errno.EINVAL),
    ("unknown type", A(999, 4, 4, 4), errno.EINVAL),
    ("rdonly and wronly", A(T.ARRAY, 4, 8, 1, map_flags=BPF_F_RDONLY | BPF_F_WRONLY), errno.EINVAL),
    ("map_extra on array", A(T.ARRAY, 4, 8, 1, map_extra=1), errno.EINVAL),
    ("key btf id without value", A(T.ARRAY, 4, 8, 1, btf_key_type_id=1), errno.EINVAL),
    ("vmlinux value type", A(T.ARRAY, 4, 8, 1, btf_vmlinux_value_type_id=1), errno.EINVAL),
    ("numa node 1", A(T.HASH, 4, 8, 1, map_flags=BPF_F_NUMA_NODE, numa_node=1), errno.EINVAL),
    ("numa node 0", A(T.HASH, 4, 8, 1, map_flags=BPF_F_NUMA_NODE, numa_node=0), OK),
    ("btf fd not open", A(T.ARRAY, 4, 8, 1, btf_fd=99, btf_value_type_id=1), errno.EBADF),
]


@pytest.mark.parametrize("attr,expected", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_map_create(attr, expected):
    k = EmulatedKernel(nr_cpus=2)
    if expected is None:
        fd = k.map_create(attr)
        info = k.map_get_info(fd)
        assert (info.type, info.key_size, info.value_size, info.max_entries, info.map_flags) == \
            (attr.map_type, attr.key_size, attr.value_size, attr.max_entries, attr.map_flags)
        return
    with pytest.raises(BpfError) as ei:
        k.map_create(attr)
    assert ei.value.errno == expected, ei.value


NAMES = [
    ("", OK), ("a", OK), ("abc_DEF.123", OK), (".percpu", OK), ("x" * 15, OK),
    ("x" * 16, errno.EINVAL), ("has space", errno.EINVAL), ("dash-ed", errno.EINVAL),
    ("ümlaut", errno.EINVAL), ("slash/", errno.EINVAL), (".percpu.loooooo", OK),
]


@pytest.mark.parametrize("name,expected", NAMES)
def test_map_name(name, expected):
    k = EmulatedKernel(nr_cpus=1)
    attr = A(T.ARRAY, 4, 4, 1, map_name=name)
    if expected is None:
        assert k.map_get_info(k.map_create(attr)).name == name
    else:
        with pytest.raises(BpfError) as ei:
            k.map_create(attr)
        assert ei.value.errno == expected


def test_size_errors_win_over_name_errors():
    """The type's alloc check runs before the name is copied."""
    k = EmulatedKernel(nr_cpus=1)
    with pytest.raises(BpfError) as ei:
        k.map_create(A(T.PERCPU_ARRAY, 4, 1 << 16, 1, map_name="bad name"))
    assert ei.value.errno == errno.E2BIG


def test_ids_and_fds_are_distinct():
    k = EmulatedKernel(nr_cpus=1)
    fds = [k.map_create(A(T.ARRAY, 4, 4, 1)) for _ in range(3)]
    assert len(set(fds)) == 3
    assert len({k.map_get_info(fd).id for fd in fds}) == 3
    k.close(fds[0])
    with pytest.raises(BpfError) as ei:
        k.map_lookup_elem(fds[0], bytes(4))
    assert ei.value.errno == errno.EBADF
