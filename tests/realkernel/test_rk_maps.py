"""Map commands on the running kernel (running-kernel.md §3, upstream-spec §1)."""

import errno
import struct

import pytest

from harness.kernelapi import BpfError, MapCreateAttr
from harness.realkernel.availability import feature, probe
from harness.uapi import (BPF_ANY, BPF_EXIST, BPF_F_ALL_CPUS, BPF_F_CPU, BPF_F_LOCK, BPF_F_RDONLY_PROG,
                          BPF_NOEXIST, MapType, round_up)

AVAILABLE = probe()
pytestmark = pytest.mark.skipif(not AVAILABLE.ok, reason=f"kernel BPF oracle unavailable: {AVAILABLE.reason}")

PERCPU = {MapType.PERCPU_ARRAY, MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH}


def u32(n):
    return struct.pack("<I", n)


def user_value(kernel, map_type, value_size, seed):
    """A value in the user-space layout: one 8-byte-rounded slot per possible CPU for per-CPU
    maps, the per-CPU padding left zero."""
    one = lambda s: bytes((s + i) & 0xFF for i in range(value_size))
    if map_type not in PERCPU:
        return one(seed)
    slot = round_up(value_size, 8)
    return b"".join(one(seed + 16 * cpu).ljust(slot, b"\0") for cpu in range(kernel.nr_possible_cpus()))


@pytest.mark.parametrize("map_type, value_size", [
    (MapType.ARRAY, 8), (MapType.ARRAY, 3), (MapType.HASH, 16), (MapType.LRU_HASH, 8),
    (MapType.PERCPU_ARRAY, 4), (MapType.PERCPU_ARRAY, 12), (MapType.PERCPU_HASH, 8),
    (MapType.LRU_PERCPU_HASH, 20),
])
def test_update_then_lookup(kernel, map_type, value_size):
    fd = kernel.map_create(MapCreateAttr(map_type, 4, value_size, 8, map_name="t"))
    value = user_value(kernel, map_type, value_size, seed=7)
    kernel.map_update_elem(fd, u32(3), value)
    assert kernel.map_lookup_elem(fd, u32(3)) == value


@pytest.mark.parametrize("value_size, written", [(4, 8), (8, 8), (12, 16), (1, 8)])
def test_percpu_value_is_rounded_slot_per_possible_cpu(kernel, value_size, written):
    """running-kernel.md §3: the kernel writes nr_possible_cpus * round_up(vs, 8) bytes."""
    fd = kernel.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, value_size, 1))
    assert len(kernel.map_lookup_elem(fd, u32(0))) == written * kernel.nr_possible_cpus()


def test_percpu_update_reads_back_per_cpu(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 1))
    n = kernel.nr_possible_cpus()
    kernel.map_update_elem(fd, u32(0), b"".join(struct.pack("<Q", 100 + c) for c in range(n)))
    got = kernel.map_lookup_elem(fd, u32(0))
    assert [struct.unpack_from("<Q", got, 8 * c)[0] for c in range(n)] == [100 + c for c in range(n)]


def test_percpu_padding_on_update(kernel):
    """Before the BPF_F_CPU series the syscall update copied the whole 8-byte slot
    (copy_map_value_long), so bytes past value_size come back; the series switched to
    copy_map_value and the padding stays zero (upstream-spec §2.1).  Observed on 6.18: copied."""
    fd = kernel.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 4, 1))
    n = kernel.nr_possible_cpus()
    kernel.map_update_elem(fd, u32(0), bytes(range(1, 8 * n + 1)))
    slot0 = kernel.map_lookup_elem(fd, u32(0))[:8]
    assert slot0[:4] == bytes([1, 2, 3, 4])
    assert slot0[4:] == (bytes(4) if feature("cpu_flags") else bytes([5, 6, 7, 8]))


ARRAY = (MapType.ARRAY, 4, 8, 4)
HASH = (MapType.HASH, 4, 8, 4)
PCPU_ARRAY = (MapType.PERCPU_ARRAY, 4, 8, 2)
PCPU_HASH = (MapType.PERCPU_HASH, 4, 8, 2)
CPU1 = BPF_F_CPU | (1 << 32)

# (map, op, key, flags, errno without the BPF_F_CPU series (6.18), errno with it (spec §1.7))
# op: "lookup" / "update" / "delete"; None = success.  Maps start with key 0 present.
ERRNO_CASES = [
    ("array lookup past max_entries", ARRAY, "lookup", 4, 0, errno.ENOENT, errno.ENOENT),
    ("array delete", ARRAY, "delete", 0, 0, errno.EINVAL, errno.EINVAL),
    ("array NOEXIST", ARRAY, "update", 0, BPF_NOEXIST, errno.EEXIST, errno.EEXIST),
    ("array update past max_entries", ARRAY, "update", 4, 0, errno.E2BIG, errno.E2BIG),
    ("array BPF_F_LOCK without spin lock", ARRAY, "update", 0, BPF_F_LOCK, errno.EINVAL, errno.EINVAL),
    ("array BPF_F_CPU", ARRAY, "lookup", 0, BPF_F_CPU, errno.EINVAL, errno.EINVAL),
    ("hash lookup missing", HASH, "lookup", 9, 0, errno.ENOENT, errno.ENOENT),
    ("hash NOEXIST existing", HASH, "update", 0, BPF_NOEXIST, errno.EEXIST, errno.EEXIST),
    ("hash EXIST missing", HASH, "update", 9, BPF_EXIST, errno.ENOENT, errno.ENOENT),
    ("hash delete missing", HASH, "delete", 9, 0, errno.ENOENT, errno.ENOENT),
    ("hash BPF_F_CPU", HASH, "update", 0, BPF_F_CPU, errno.EINVAL, errno.EINVAL),
    ("percpu_array BPF_F_CPU lookup", PCPU_ARRAY, "lookup", 0, BPF_F_CPU, errno.EINVAL, None),
    ("percpu_array BPF_F_CPU cpu 1 update", PCPU_ARRAY, "update", 0, CPU1, errno.EINVAL, None),
    ("percpu_array BPF_F_ALL_CPUS update", PCPU_ARRAY, "update", 0, BPF_F_ALL_CPUS, errno.EINVAL, None),
    ("percpu_array BPF_F_ALL_CPUS lookup", PCPU_ARRAY, "lookup", 0, BPF_F_ALL_CPUS, errno.EINVAL, errno.EINVAL),
    ("percpu_array both CPU flags", PCPU_ARRAY, "update", 0, BPF_F_CPU | BPF_F_ALL_CPUS, errno.EINVAL, errno.EINVAL),
    ("percpu_array cpu bits without BPF_F_CPU", PCPU_ARRAY, "lookup", 0, 1 << 32, errno.EINVAL, errno.EINVAL),
    ("percpu_array cpu out of range", PCPU_ARRAY, "lookup", 0, BPF_F_CPU | (4096 << 32), errno.EINVAL, errno.ERANGE),
    ("percpu_array NOEXIST", PCPU_ARRAY, "update", 0, BPF_NOEXIST, errno.EEXIST, errno.EEXIST),
    ("percpu_hash BPF_F_ALL_CPUS update", PCPU_HASH, "update", 0, BPF_F_ALL_CPUS, errno.EINVAL, None),
    ("percpu_hash BPF_F_CPU lookup", PCPU_HASH, "lookup", 0, BPF_F_CPU, errno.EINVAL, None),
]


def run_op(kernel, fd, map_type, value_size, op, key, flags):
    if op == "lookup":
        return kernel.map_lookup_elem(fd, u32(key), flags)
    if op == "delete":
        return kernel.map_delete_elem(fd, u32(key))
    size = value_size if flags & (BPF_F_CPU | BPF_F_ALL_CPUS) else None
    value = bytes(size) if size is not None else user_value(kernel, map_type, value_size, 1)
    return kernel.map_update_elem(fd, u32(key), value, flags)


@pytest.mark.parametrize("what, spec, op, key, flags, without, with_series", ERRNO_CASES,
                         ids=[c[0] for c in ERRNO_CASES])
def test_map_errnos(kernel, what, spec, op, key, flags, without, with_series):
    map_type, ks, vs, n = spec
    fd = kernel.map_create(MapCreateAttr(map_type, ks, vs, n))
    kernel.map_update_elem(fd, u32(0), user_value(kernel, map_type, vs, 0))
    expected = with_series if feature("cpu_flags") else without
    if expected is None:
        run_op(kernel, fd, map_type, vs, op, key, flags)
        return
    with pytest.raises(BpfError) as exc:
        run_op(kernel, fd, map_type, vs, op, key, flags)
    assert exc.value.errno == expected, exc.value


def test_value_of_wrong_size_is_refused_before_the_kernel(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 8, 1))
    with pytest.raises(BpfError) as exc:
        kernel.map_update_elem(fd, u32(0), bytes(8))       # one CPU's worth only
    assert exc.value.errno == errno.EINVAL and "expected" in exc.value.message


def test_get_next_key_walk(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.HASH, 4, 8, 8))
    for k in (9, 0, 5):
        kernel.map_update_elem(fd, u32(k), bytes(8))
    seen, key = [], None
    while True:
        try:
            key = kernel.map_get_next_key(fd, key)
        except BpfError as exc:
            assert exc.errno == errno.ENOENT
            break
        seen.append(struct.unpack("<I", key)[0])
    assert sorted(seen) == [0, 5, 9]


def test_lookup_and_delete(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.HASH, 4, 8, 8))
    kernel.map_update_elem(fd, u32(1), struct.pack("<Q", 77))
    assert kernel.map_lookup_and_delete_elem(fd, u32(1)) == struct.pack("<Q", 77)
    with pytest.raises(BpfError) as exc:
        kernel.map_lookup_elem(fd, u32(1))
    assert exc.value.errno == errno.ENOENT


def test_queue_has_no_key(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.QUEUE, 0, 4, 4))
    for v in (1, 2):
        kernel.map_update_elem(fd, None, u32(v))
    assert kernel.map_lookup_elem(fd, None) == u32(1)                 # peek
    assert kernel.map_lookup_and_delete_elem(fd, None) == u32(1)      # pop
    assert kernel.map_lookup_and_delete_elem(fd, None) == u32(2)
    with pytest.raises(BpfError) as exc:
        kernel.map_lookup_and_delete_elem(fd, None)
    assert exc.value.errno == errno.ENOENT


def test_freeze_blocks_syscall_updates(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.ARRAY, 4, 8, 1, map_flags=BPF_F_RDONLY_PROG))
    kernel.map_update_elem(fd, u32(0), struct.pack("<Q", 7))
    kernel.map_freeze(fd)
    with pytest.raises(BpfError) as exc:
        kernel.map_update_elem(fd, u32(0), bytes(8))
    assert exc.value.errno == errno.EPERM
    assert kernel.map_lookup_elem(fd, u32(0)) == struct.pack("<Q", 7)


def test_map_get_info(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.HASH, 4, 12, 5, map_flags=1, map_name="a_long_map_name_x"))
    info = kernel.map_get_info(fd)
    assert (info.type, info.key_size, info.value_size, info.max_entries, info.map_flags) == \
        (MapType.HASH, 4, 12, 5, 1)
    assert info.name == "a_long_map_name"      # BPF_OBJ_NAME_LEN - 1 characters
    assert info.id > 0


@pytest.mark.parametrize("map_type", [MapType.HASH, MapType.ARRAY, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY])
def test_batch_update_lookup_delete(kernel, map_type):
    n = 5
    fd = kernel.map_create(MapCreateAttr(map_type, 4, 8, n))
    keys = b"".join(u32(k) for k in range(n))
    values = b"".join(user_value(kernel, map_type, 8, 10 * k) for k in range(n))
    assert kernel.map_update_batch(fd, keys, values, n) == n
    got, token, chunk = {}, None, 2
    while True:
        try:
            res = kernel.map_lookup_batch(fd, token, chunk)
        except BpfError as exc:
            # htab batches whole buckets: a bucket larger than `count` is ENOSPC (the
            # seed-dependent collisions make this happen now and then with count 2)
            assert exc.errno == errno.ENOSPC and map_type in (MapType.HASH, MapType.PERCPU_HASH)
            chunk *= 2
            continue
        stride = len(values) // n
        for i in range(res.count):
            got[res.keys[4 * i:4 * i + 4]] = res.values[stride * i:stride * (i + 1)]
        if res.out_batch is None:
            break
        token = res.out_batch
    assert got == {keys[4 * k:4 * k + 4]: values[len(values) // n * k:len(values) // n * (k + 1)] for k in range(n)}
    if map_type in (MapType.HASH, MapType.PERCPU_HASH):
        assert kernel.map_delete_batch(fd, keys[:8], 2) == 2
        with pytest.raises(BpfError) as exc:
            kernel.map_lookup_elem(fd, u32(0))
        assert exc.value.errno == errno.ENOENT


def test_batch_elem_flags_cpu(kernel):
    """elem_flags carries BPF_F_CPU for batch ops (upstream-spec §1.2)."""
    fd = kernel.map_create(MapCreateAttr(MapType.PERCPU_ARRAY, 4, 4, 2))
    if feature("cpu_flags"):
        res = kernel.map_lookup_batch(fd, None, 2, elem_flags=BPF_F_CPU)
        assert res.count == 2 and len(res.values) == 8
    else:
        with pytest.raises(BpfError) as exc:
            kernel.map_lookup_batch(fd, None, 2, elem_flags=BPF_F_CPU)
        assert exc.value.errno == errno.EINVAL


def test_lookup_and_delete_batch_drains_hash(kernel):
    fd = kernel.map_create(MapCreateAttr(MapType.HASH, 4, 8, 4))
    for k in range(3):
        kernel.map_update_elem(fd, u32(k), struct.pack("<Q", k))
    res = kernel.map_lookup_and_delete_batch(fd, None, 8)
    assert res.count == 3 and res.out_batch is None
    with pytest.raises(BpfError) as exc:
        kernel.map_get_next_key(fd, None)
    assert exc.value.errno == errno.ENOENT
