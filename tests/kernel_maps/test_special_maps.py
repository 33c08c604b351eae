"""PROG_ARRAY, ARRAY_OF_MAPS / HASH_OF_MAPS, RINGBUF and PERCPU_CGROUP_STORAGE."""

from __future__ import annotations

import errno

import pytest

from harness.kernelapi import BpfError
from harness.uapi import BPF_ANY, BPF_EXIST, BPF_F_ALL_CPUS, BPF_F_INNER_MAP, BPF_NOEXIST, ENOTSUPP, MapType as T

from .mapsutil import cpu_flag, percpu_u32s, u32, u64


class FakeProg:
    """Stands in for the program object the prog-commands area installs in the fd table."""

    def __init__(self, prog_type, prog_id):
        self.prog_type, self.id = prog_type, prog_id


def _err(fn, *args, **kw) -> int:
    with pytest.raises(BpfError) as ei:
        fn(*args, **kw)
    return ei.value.errno


# ------------------------------------------------------------------ prog array
def test_prog_array(kernel, make_map):
    fd = make_map(T.PROG_ARRAY, 4, 4, 4)
    m = kernel.map_object(fd)
    prog = FakeProg(1, 77)
    pfd = kernel.fds.install(prog)
    kernel.map_update_elem(fd, u32(2), u32(pfd))
    assert kernel.map_lookup_elem(fd, u32(2)) == u32(77)              # the prog id
    assert m.get_prog(2) is prog and m.get_prog(1) is None
    kernel.close(pfd)
    assert m.get_prog(2) is prog                                      # held by reference
    assert _err(kernel.map_lookup_elem, fd, u32(1)) == errno.ENOENT
    other = kernel.fds.install(FakeProg(2, 78))
    assert _err(kernel.map_update_elem, fd, u32(1), u32(other)) == errno.EINVAL   # owner type
    assert _err(kernel.map_update_elem, fd, u32(1), u32(99)) == errno.EBADF
    assert _err(kernel.map_update_elem, fd, u32(1), u32(fd)) == errno.EINVAL      # a map, not a prog
    assert _err(kernel.map_update_elem, fd, u32(4), u32(other)) == errno.E2BIG
    assert _err(kernel.map_update_elem, fd, u32(1), u32(other), BPF_EXIST) == errno.EINVAL
    kernel.map_delete_elem(fd, u32(2))
    assert m.get_prog(2) is None
    assert _err(kernel.map_delete_elem, fd, u32(2)) == errno.ENOENT
    assert _err(kernel.map_delete_elem, fd, u32(4)) == errno.E2BIG


# ------------------------------------------------------------------ map in map
def test_array_of_maps(kernel, make_map):
    inner = make_map(T.ARRAY, 4, 8, 2)
    outer = make_map(T.ARRAY_OF_MAPS, 4, 4, 3, inner_map_fd=inner)
    kernel.map_update_elem(outer, u32(0), u32(inner))
    inner_obj = kernel.map_object(inner)
    assert kernel.map_lookup_elem(outer, u32(0)) == u32(inner_obj.id)
    assert kernel.map_object(outer).prog_lookup(u32(0), 0) is inner_obj
    assert kernel.map_object(outer).prog_lookup(u32(1), 0) is None
    other_size = make_map(T.ARRAY, 4, 8, 3)                           # max_entries differs
    assert _err(kernel.map_update_elem, outer, u32(1), u32(other_size)) == errno.EINVAL
    other_type = make_map(T.HASH, 4, 8, 2)
    assert _err(kernel.map_update_elem, outer, u32(1), u32(other_type)) == errno.EINVAL
    assert kernel.map_update_batch(outer, u32(2), u32(inner), 1) == 1
    res = kernel.map_lookup_batch(outer, None, 3)                     # empty slot 1 skipped
    assert (res.count, res.keys, res.values) == (2, u32(0) + u32(2), u32(inner_obj.id) * 2)


def test_inner_map_flag_relaxes_max_entries(kernel, make_map):
    inner = make_map(T.ARRAY, 4, 8, 2, map_flags=BPF_F_INNER_MAP)
    outer = make_map(T.ARRAY_OF_MAPS, 4, 4, 3, inner_map_fd=inner)
    bigger = make_map(T.ARRAY, 4, 8, 10, map_flags=BPF_F_INNER_MAP)
    kernel.map_update_elem(outer, u32(0), u32(bigger))


def test_hash_of_maps(kernel, make_map):
    inner = make_map(T.HASH, 4, 8, 2)
    outer = make_map(T.HASH_OF_MAPS, 8, 4, 2, inner_map_fd=inner)
    kernel.map_update_elem(outer, u64(5), u32(inner), BPF_NOEXIST)
    assert _err(kernel.map_update_elem, outer, u64(5), u32(inner), BPF_NOEXIST) == errno.EEXIST
    assert kernel.map_lookup_elem(outer, u64(5)) == u32(kernel.map_object(inner).id)
    assert kernel.map_object(outer).prog_lookup(u64(5), 0) is kernel.map_object(inner)
    assert kernel.map_get_next_key(outer, None) == u64(5)
    res = kernel.map_lookup_and_delete_batch(outer, None, 4)
    assert (res.count, res.values) == (1, u32(kernel.map_object(inner).id))
    assert _err(kernel.map_lookup_elem, outer, u64(5)) == errno.ENOENT
    assert _err(kernel.map_lookup_and_delete_elem, outer, u64(5)) == ENOTSUPP


@pytest.mark.parametrize("setup,expected", [
    ("none", errno.EBADF), ("stdin", errno.EINVAL), ("nested", errno.EINVAL), ("prog_array", ENOTSUPP),
])
def test_map_in_map_inner_fd(kernel, make_map, setup, expected):
    if setup == "none":
        inner = 99
    elif setup == "stdin":
        inner = 0
    elif setup == "nested":
        leaf = make_map(T.ARRAY, 4, 4, 1)
        inner = make_map(T.ARRAY_OF_MAPS, 4, 4, 1, inner_map_fd=leaf)
    else:
        inner = make_map(T.PROG_ARRAY, 4, 4, 1)
    assert _err(make_map, T.ARRAY_OF_MAPS, 4, 4, 1, inner_map_fd=inner) == expected


# ------------------------------------------------------------------ ring buffer
def test_ringbuf(kernel, make_map):
    fd = make_map(T.RINGBUF, 0, 0, 4096)
    rb = kernel.map_object(fd)
    a = rb.reserve(10)
    b = rb.reserve(4)
    assert len(a) == 10 and bytes(a) == bytes(10)
    b[:] = b"bbbb"
    rb.submit(b)
    assert rb.consume() == []                    # a is still busy: the consumer waits
    a[:] = b"a" * 10
    rb.discard(a)
    assert rb.consume() == [b"bbbb"]
    assert rb.output(b"xyz") == 0
    assert rb.consume() == [b"xyz"]
    assert rb.avail_data() == 0


def test_ringbuf_capacity(kernel, make_map):
    rb = kernel.map_object(make_map(T.RINGBUF, 0, 0, 4096))
    assert rb.reserve(4096) is None              # header does not fit
    big = rb.reserve(4096 - 16)                  # 4088 bytes with header: fits (< 4096)
    assert big is not None
    assert rb.output(b"x") == -errno.EAGAIN
    rb.submit(big)
    assert len(rb.consume()[0]) == 4080
    assert rb.output(b"x") == 0


@pytest.mark.parametrize("op", ["lookup", "update", "delete", "next"])
def test_ringbuf_syscall_ops(kernel, make_map, op):
    fd = make_map(T.RINGBUF, 0, 0, 4096)
    calls = {"lookup": lambda: kernel.map_lookup_elem(fd, None),
             "update": lambda: kernel.map_update_elem(fd, None, b""),
             "delete": lambda: kernel.map_delete_elem(fd, None),
             "next": lambda: kernel.map_get_next_key(fd, None)}
    assert _err(calls[op]) == ENOTSUPP
    assert _err(kernel.map_lookup_elem, fd, b"") == errno.EINVAL   # non-NULL key for key_size 0


# ------------------------------------------------------------------ percpu cgroup storage
def test_percpu_cgroup_storage_cpu_flags(kernel, make_map):
    """cpu_flag_percpu_cgroup_storage (§6.3), entries 1, no batch."""
    fd = make_map(T.PERCPU_CGROUP_STORAGE, 16, 4, 0)
    m = kernel.map_object(fd)
    key = u64(1234) + u32(1) + bytes(4)
    assert _err(kernel.map_lookup_elem, fd, key) == errno.ENOENT
    assert _err(kernel.map_get_next_key, fd, None) == errno.ENOENT
    m.storage_create(key)
    assert kernel.map_get_next_key(fd, None) == key
    n = kernel.nr_possible_cpus()
    assert _err(kernel.map_update_elem, fd, key, u32(0), cpu_flag(n)) == errno.ERANGE
    for cpu in range(n):
        kernel.map_update_elem(fd, key, u32(0), BPF_F_ALL_CPUS)
        kernel.map_update_elem(fd, key, u32(0xDEADC0DE), cpu_flag(cpu))
        for j in range(n):
            assert kernel.map_lookup_elem(fd, key, cpu_flag(j)) == u32(0xDEADC0DE if j == cpu else 0)
    assert percpu_u32s(kernel.map_lookup_elem(fd, key), n)[n - 1] == 0xDEADC0DE
    assert m.prog_lookup(key, n - 1)[:4] == u32(0xDEADC0DE)
    assert _err(kernel.map_update_elem, fd, key, bytes(8 * n), BPF_NOEXIST) == errno.EINVAL
    kernel.map_update_elem(fd, key, bytes(8 * n), BPF_EXIST)
    assert kernel.map_lookup_elem(fd, key) == bytes(8 * n)
    assert _err(kernel.map_delete_elem, fd, key) == errno.EINVAL
    assert _err(kernel.map_lookup_batch, fd, None, 1) == ENOTSUPP


def test_bpf_any_on_cgroup_storage(kernel, make_map):
    fd = make_map(T.PERCPU_CGROUP_STORAGE, 8, 4, 0)
    kernel.map_object(fd).storage_create(u64(1))
    kernel.map_update_elem(fd, u64(1), u32(3), BPF_F_ALL_CPUS | BPF_ANY)
    assert kernel.map_lookup_elem(fd, u64(1), cpu_flag(1)) == u32(3)


# ------------------------------------------------------------------ queue / stack
@pytest.mark.parametrize("map_type,order", [(T.QUEUE, [1, 2]), (T.STACK, [2, 1])], ids=["queue", "stack"])
def test_queue_stack(kernel, make_map, map_type, order):
    fd = make_map(map_type, 0, 4, 2)
    assert _err(kernel.map_lookup_elem, fd, None) == errno.ENOENT
    kernel.map_update_elem(fd, None, u32(1))
    kernel.map_update_elem(fd, None, u32(2))
    assert _err(kernel.map_update_elem, fd, None, u32(3)) == errno.E2BIG
    assert _err(kernel.map_update_elem, fd, None, u32(3), BPF_NOEXIST) == errno.EINVAL
    assert kernel.map_lookup_elem(fd, None) == u32(order[0])                 # peek
    assert [kernel.map_lookup_and_delete_elem(fd, None) for _ in range(2)] == [u32(v) for v in order]
    assert _err(kernel.map_lookup_and_delete_elem, fd, None) == errno.ENOENT
    assert _err(kernel.map_lookup_and_delete_elem, fd, None, 4) == errno.EINVAL
    assert _err(kernel.map_delete_elem, fd, None) == errno.EINVAL
    assert _err(kernel.map_get_next_key, fd, None) == errno.EINVAL


@pytest.mark.parametrize("map_type,left", [(T.QUEUE, [2, 3]), (T.STACK, [3, 2])], ids=["queue", "stack"])
def test_queue_stack_exist_overwrites_oldest(kernel, make_map, map_type, left):
    fd = make_map(map_type, 0, 4, 2)
    m = kernel.map_object(fd)
    for v in (1, 2):
        assert m.prog_push(u32(v), BPF_ANY) == 0
    assert m.prog_push(u32(3), BPF_EXIST) == 0
    assert m.prog_peek() == u32(left[0])
    assert [m.prog_pop(), m.prog_pop(), m.prog_pop()] == [u32(left[0]), u32(left[1]), None]
