"""BPF_MAP_CREATE: attribute validation per map type and the map-type table.

The kernel validates in layers, and the first failing layer decides the errno:
  1. map_create() generic checks (BTF id pairing, map_extra, RDONLY+WRONLY, NUMA node);
  2. the type's map_alloc_check (sizes, max_entries, flags allowed for the type);
  3. the type's allocation (map-in-map: the inner_map_fd template);
  4. the object name (bpf_obj_name_cpy);
  5. BTF key/value checks (btfcheck.py).
Each `*_alloc_check` below restates one kernel function; MAP_TYPES says which class and
which check a type uses.  Types not in the table are refused with EINVAL.
"""

from __future__ import annotations

import errno
from typing import Callable

from harness.kernel.maps.array import ArrayMap, PercpuArrayMap
from harness.kernel.maps.base import BpfMap
from harness.kernel.maps.cgroup_storage import PercpuCgroupStorageMap
from harness.kernel.maps.fdmaps import ArrayOfMapsMap, HashOfMapsMap, ProgArrayMap
from harness.kernel.maps.hash import HashMap, LruHashMap, LruPercpuHashMap, PercpuHashMap
from harness.kernel.maps.queue import QueueMap, StackMap
from harness.kernel.maps.ringbuf import RingbufMap
from harness.kernelapi import BpfError, MapCreateAttr
from harness.uapi import (BPF_F_INNER_MAP, BPF_F_MMAPABLE, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC,
                          BPF_F_NUMA_NODE, BPF_F_PRESERVE_ELEMS, BPF_F_RDONLY, BPF_F_RDONLY_PROG,
                          BPF_F_WRONLY, BPF_F_WRONLY_PROG, BPF_F_ZERO_SEED, BPF_OBJ_NAME_LEN, ENOTSUPP,
                          MapType, round_up)

PCPU_MIN_UNIT_SIZE = 32 * 1024
INT_MAX = (1 << 31) - 1
KMALLOC_MAX_SIZE = 4 << 20          # x86-64 default (MAX_PAGE_ORDER 10, 4 KiB pages)
HTAB_ELEM_OVERHEAD = 48             # sizeof(struct htab_elem) on x86-64
PAGE_SIZE = 4096

BPF_F_ACCESS_MASK = BPF_F_RDONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY | BPF_F_WRONLY_PROG
ARRAY_CREATE_FLAG_MASK = (BPF_F_NUMA_NODE | BPF_F_MMAPABLE | BPF_F_ACCESS_MASK
                          | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP)
HTAB_CREATE_FLAG_MASK = (BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE
                         | BPF_F_ACCESS_MASK | BPF_F_ZERO_SEED)
RINGBUF_CREATE_FLAG_MASK = BPF_F_NUMA_NODE
LOCAL_STORAGE_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK
QUEUE_STACK_CREATE_FLAG_MASK = BPF_F_NUMA_NODE | BPF_F_ACCESS_MASK


def _fail(code: int, message: str):
    raise BpfError(code, message)


def flags_access_ok(flags: int) -> bool:
    """bpf_map_flags_access_ok(): a map cannot be both read-only and write-only for programs."""
    return (flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)) != (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)


def _numa_node_set(attr: MapCreateAttr) -> bool:
    return bool(attr.map_flags & BPF_F_NUMA_NODE)


def array_alloc_check(attr: MapCreateAttr, kernel) -> None:
    """array_map_alloc_check (spec §3.1)."""
    percpu = attr.map_type == MapType.PERCPU_ARRAY
    if (attr.max_entries == 0 or attr.key_size != 4 or attr.value_size == 0
            or attr.map_flags & ~ARRAY_CREATE_FLAG_MASK or not flags_access_ok(attr.map_flags)
            or (percpu and _numa_node_set(attr))):
        _fail(errno.EINVAL, "array maps need key_size 4, value_size > 0, max_entries > 0 and array flags")
    if attr.map_type != MapType.ARRAY and attr.map_flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP):
        _fail(errno.EINVAL, "BPF_F_MMAPABLE and BPF_F_INNER_MAP are only for BPF_MAP_TYPE_ARRAY")
    if attr.map_type != MapType.PERF_EVENT_ARRAY and attr.map_flags & BPF_F_PRESERVE_ELEMS:
        _fail(errno.EINVAL, "BPF_F_PRESERVE_ELEMS is only for BPF_MAP_TYPE_PERF_EVENT_ARRAY")
    if attr.value_size > INT_MAX:
        _fail(errno.E2BIG, f"value_size {attr.value_size} > INT_MAX")
    if percpu and round_up(attr.value_size, 8) > PCPU_MIN_UNIT_SIZE:
        _fail(errno.E2BIG, f"per-CPU value_size {attr.value_size} exceeds {PCPU_MIN_UNIT_SIZE} bytes")


def fd_array_alloc_check(attr: MapCreateAttr, kernel) -> None:
    """fd_array_map_alloc_check: values are u32 fds; programs can neither read nor write them."""
    if attr.value_size != 4:
        _fail(errno.EINVAL, "fd array maps need value_size 4")
    if attr.map_flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG):
        _fail(errno.EINVAL, "fd array maps take no program access flags")
    array_alloc_check(attr, kernel)


def htab_alloc_check(attr: MapCreateAttr, kernel) -> None:
    """htab_map_alloc_check."""
    percpu = attr.map_type in (MapType.PERCPU_HASH, MapType.LRU_PERCPU_HASH)
    lru = attr.map_type in (MapType.LRU_HASH, MapType.LRU_PERCPU_HASH)
    prealloc = not attr.map_flags & BPF_F_NO_PREALLOC
    percpu_lru = bool(attr.map_flags & BPF_F_NO_COMMON_LRU)
    if attr.map_flags & BPF_F_ZERO_SEED and not kernel.config.privileged:
        _fail(errno.EPERM, "BPF_F_ZERO_SEED needs CAP_SYS_ADMIN")
    if attr.map_flags & ~HTAB_CREATE_FLAG_MASK or not flags_access_ok(attr.map_flags):
        _fail(errno.EINVAL, f"map_flags 0x{attr.map_flags:x} not valid for a hash map")
    if not lru and percpu_lru:
        _fail(errno.EINVAL, "BPF_F_NO_COMMON_LRU is only for LRU maps")
    if lru and not prealloc:
        _fail(ENOTSUPP, "LRU maps are always preallocated (BPF_F_NO_PREALLOC)")
    if _numa_node_set(attr) and (percpu or percpu_lru):
        _fail(errno.EINVAL, "per-CPU hash maps take no NUMA node")
    if attr.max_entries == 0 or attr.key_size == 0 or attr.value_size == 0:
        _fail(errno.EINVAL, "hash maps need key_size, value_size and max_entries > 0")
    if attr.key_size + attr.value_size >= KMALLOC_MAX_SIZE - HTAB_ELEM_OVERHEAD:
        _fail(errno.E2BIG, "key_size + value_size too large")
    if percpu and round_up(attr.value_size, 8) > PCPU_MIN_UNIT_SIZE:
        _fail(errno.E2BIG, f"per-CPU value_size {attr.value_size} exceeds {PCPU_MIN_UNIT_SIZE} bytes")


def fd_htab_alloc_check(attr: MapCreateAttr, kernel) -> None:
    if attr.value_size != 4:
        _fail(errno.EINVAL, "hash of maps needs value_size 4")
    htab_alloc_check(attr, kernel)


def ringbuf_alloc_check(attr: MapCreateAttr, kernel) -> None:
    """ringbuf_map_alloc: no key/value, max_entries a power-of-2 multiple of the page size."""
    if attr.map_flags & ~RINGBUF_CREATE_FLAG_MASK:
        _fail(errno.EINVAL, f"map_flags 0x{attr.map_flags:x} not valid for a ring buffer")
    n = attr.max_entries
    if attr.key_size or attr.value_size or n <= 0 or n & (n - 1) or n % PAGE_SIZE:
        _fail(errno.EINVAL, "ring buffers need key/value size 0 and a power-of-2, page-aligned max_entries")


def cgroup_storage_alloc_check(attr: MapCreateAttr, kernel) -> None:
    """cgroup_storage_map_alloc (per-CPU flavour)."""
    if attr.key_size not in (16, 8):
        _fail(errno.EINVAL, "cgroup storage key is struct bpf_cgroup_storage_key (16) or a u64 (8)")
    if attr.value_size == 0:
        _fail(errno.EINVAL, "value_size must be > 0")
    if attr.value_size > PCPU_MIN_UNIT_SIZE:
        _fail(errno.E2BIG, f"per-CPU value_size {attr.value_size} exceeds {PCPU_MIN_UNIT_SIZE} bytes")
    if attr.map_flags & ~LOCAL_STORAGE_CREATE_FLAG_MASK or not flags_access_ok(attr.map_flags):
        _fail(errno.EINVAL, f"map_flags 0x{attr.map_flags:x} not valid for cgroup storage")
    if attr.max_entries:
        _fail(errno.EINVAL, "cgroup storage max_entries must be 0 (storage is per cgroup)")


def queue_stack_alloc_check(attr: MapCreateAttr, kernel) -> None:
    """queue_stack_map_alloc_check: no key, a value, max_entries > 0."""
    if (attr.max_entries == 0 or attr.key_size != 0 or attr.value_size == 0
            or attr.map_flags & ~QUEUE_STACK_CREATE_FLAG_MASK or not flags_access_ok(attr.map_flags)):
        _fail(errno.EINVAL, "queue/stack maps need key_size 0, value_size > 0 and max_entries > 0")
    if attr.value_size > KMALLOC_MAX_SIZE:
        _fail(errno.E2BIG, f"value_size {attr.value_size} too large")


#: map type -> (class, alloc check).  The only place that lists supported map types.
MAP_TYPES: dict[int, tuple[type[BpfMap], Callable]] = {
    MapType.HASH: (HashMap, htab_alloc_check),
    MapType.ARRAY: (ArrayMap, array_alloc_check),
    MapType.PROG_ARRAY: (ProgArrayMap, fd_array_alloc_check),
    MapType.PERCPU_HASH: (PercpuHashMap, htab_alloc_check),
    MapType.PERCPU_ARRAY: (PercpuArrayMap, array_alloc_check),
    MapType.LRU_HASH: (LruHashMap, htab_alloc_check),
    MapType.LRU_PERCPU_HASH: (LruPercpuHashMap, htab_alloc_check),
    MapType.ARRAY_OF_MAPS: (ArrayOfMapsMap, fd_array_alloc_check),
    MapType.HASH_OF_MAPS: (HashOfMapsMap, fd_htab_alloc_check),
    MapType.PERCPU_CGROUP_STORAGE: (PercpuCgroupStorageMap, cgroup_storage_alloc_check),
    MapType.RINGBUF: (RingbufMap, ringbuf_alloc_check),
    MapType.QUEUE: (QueueMap, queue_stack_alloc_check),
    MapType.STACK: (StackMap, queue_stack_alloc_check),
}

MAP_IN_MAP_TYPES = (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS)
#: types that may serve as an inner map (have map_meta_equal)
INNER_MAP_TYPES = frozenset({
    MapType.HASH, MapType.ARRAY, MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_HASH,
    MapType.LRU_PERCPU_HASH, MapType.RINGBUF, MapType.QUEUE, MapType.STACK,
})


def check_generic(attr: MapCreateAttr) -> None:
    """map_create()'s checks before the type is consulted."""
    if attr.btf_vmlinux_value_type_id:
        _fail(errno.EINVAL, "btf_vmlinux_value_type_id is only for struct_ops maps")
    if attr.btf_key_type_id and not attr.btf_value_type_id:
        _fail(errno.EINVAL, "btf_key_type_id without btf_value_type_id")
    if attr.map_extra and attr.map_type not in (MapType.BLOOM_FILTER, MapType.ARENA):
        _fail(errno.EINVAL, "map_extra is only for bloom filter and arena maps")
    if attr.map_flags & BPF_F_RDONLY and attr.map_flags & BPF_F_WRONLY:
        _fail(errno.EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY together")
    if _numa_node_set(attr) and attr.numa_node != 0:
        _fail(errno.EINVAL, f"NUMA node {attr.numa_node} is not online (the emulated kernel has node 0)")
    for name in ("key_size", "value_size", "max_entries", "map_flags"):
        if not 0 <= getattr(attr, name) <= 0xFFFFFFFF:
            _fail(errno.EINVAL, f"{name} {getattr(attr, name)} does not fit in u32")


def check_name(name: str) -> None:
    """bpf_obj_name_cpy: ASCII letters, digits, '_' and '.'; at most 15 chars + NUL."""
    raw = name.encode("utf-8", "replace") if isinstance(name, str) else bytes(name)
    raw = raw.split(b"\0", 1)[0]
    if len(raw) >= BPF_OBJ_NAME_LEN:
        _fail(errno.EINVAL, f"map name {name!r} longer than {BPF_OBJ_NAME_LEN - 1} characters")
    for ch in raw.decode("latin-1"):
        if not (ch.isascii() and (ch.isalnum() or ch in "_.")):
            _fail(errno.EINVAL, f"map name {name!r} has a character other than [A-Za-z0-9_.]")


def inner_map_template(attr: MapCreateAttr, kernel) -> BpfMap:
    """bpf_map_meta_alloc: the inner map fd must be a map that may be nested."""
    inner = kernel.map_object(attr.inner_map_fd)      # EBADF / EINVAL (not a map)
    if inner.map_type in MAP_IN_MAP_TYPES:
        _fail(errno.EINVAL, "Does not support >1 level map-in-map")
    if inner.map_type not in INNER_MAP_TYPES:
        _fail(ENOTSUPP, f"map type {inner.map_type} cannot be an inner map")
    return inner


def create_map(attr: MapCreateAttr, kernel) -> BpfMap:
    """Validate `attr` in the kernel's order and build the map object (no fd, no BTF yet)."""
    check_generic(attr)
    entry = MAP_TYPES.get(attr.map_type)
    if entry is None:
        try:
            label = MapType(attr.map_type).name
        except ValueError:
            label = str(attr.map_type)
        _fail(errno.EINVAL, f"map type {label} is not supported by the emulated kernel")
    cls, alloc_check = entry
    alloc_check(attr, kernel)
    template = inner_map_template(attr, kernel) if attr.map_type in MAP_IN_MAP_TYPES else None
    check_name(attr.map_name)
    m = cls(attr, kernel)
    if template is not None:
        m.inner_map_meta = template
    return m
