"""map_check_btf(): a map's BTF key/value types against its sizes, and the special
fields the value holds (only bpf_spin_lock is modelled).

Order as in the kernel: key (or "no key" only for types with a map_check_btf op), value
size, special fields (spin lock only in HASH/ARRAY -> else EOPNOTSUPP), then the type's
own check: arrays want a 32-bit INT key, or no key with a DATASEC value and max_entries 1
(global data; spec §3.1 extends that to PERCPU_ARRAY); fd maps take no BTF (ENOTSUPP).

When the kernel BTF object carries no parsed types (the parser was unavailable at load),
only the generic attribute checks run and the value is taken to hold no spin lock.
"""

from __future__ import annotations

import errno

from harness.kernelapi import BpfError
from harness.uapi import ENOTSUPP, MapType

try:  # the BTF model (harness.elf.btf_kinds) is another area's; degrade when absent
    from harness.elf import btf_kinds as K
except ImportError:  # pragma: no cover - only while the parser is being written
    K = None

SPIN_LOCK_MAP_TYPES = frozenset({MapType.HASH, MapType.ARRAY, MapType.CGROUP_STORAGE,
                                 MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE,
                                 MapType.CGRP_STORAGE})
ARRAY_TYPES = frozenset({MapType.ARRAY, MapType.PERCPU_ARRAY})
#: map_check_no_btf types (a 6.18 kernel: map-in-map ENOTSUPP; PROG_ARRAY takes BTF
#: with a key, and without one is EINVAL like any type lacking map_check_btf)
NO_BTF_TYPES = frozenset({MapType.PERF_EVENT_ARRAY, MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS})
#: map type -> config feature that allows a keyless DATASEC value
KEYLESS_FEATURE = {MapType.ARRAY: "global_data", MapType.PERCPU_ARRAY: "percpu_data"}


def _bad(message: str, code: int = errno.EINVAL):
    raise BpfError(code, message)


def type_id_size(btf, type_id: int):
    """btf_type_id_size(): (resolved type, size), or None for void/func/fwd and the like."""
    try:
        tid = btf.resolve(type_id)
        t = btf.type_by_id(tid)
        if t.kind in (0, K.FUNC, K.FUNC_PROTO, K.FWD, K.DECL_TAG):
            return None
        if t.kind == K.VAR:
            return type_id_size(btf, t.type)
        return t, btf.size_of(tid)
    except Exception:   # FormatError for bad ids / loops: the kernel says EINVAL
        return None


def find_spin_lock(btf, value_type) -> int | None:
    """Byte offset of a top-level `struct bpf_spin_lock` in the value (struct or DATASEC)."""
    if value_type.kind not in (K.STRUCT, K.DATASEC):
        return None
    found = None
    for m in value_type.members:
        t = btf.type_by_id(btf.resolve(m.type))
        if value_type.kind == K.DATASEC:
            if t.kind == K.VAR:
                t = btf.type_by_id(btf.resolve(t.type))
            off = m.offset
        else:
            off = m.bit_offset(value_type.kind_flag) // 8
        if t.kind == K.STRUCT and btf.name_of(t) == "bpf_spin_lock":
            if found is not None:
                _bad("value holds more than one bpf_spin_lock")
            found = off
    return found


def check_map_btf(bpf_map, btf_obj, key_id: int, value_id: int) -> None:
    """Validate and record the BTF of a new map (sets spin_lock_off)."""
    btf = getattr(btf_obj, "btf", None)
    if btf is None or K is None:
        return
    key_type = None
    if key_id:
        got = type_id_size(btf, key_id)
        if got is None or got[1] != bpf_map.key_size:
            _bad(f"BTF key type [{key_id}] does not match key_size {bpf_map.key_size}")
        key_type = got[0]
    elif bpf_map.map_type not in ARRAY_TYPES and bpf_map.map_type not in NO_BTF_TYPES:
        _bad("this map type needs a BTF key type")
    got = type_id_size(btf, value_id)
    if got is None or got[1] != bpf_map.value_size:
        _bad(f"BTF value type [{value_id}] does not match value_size {bpf_map.value_size}")
    value_type = got[0]
    lock = find_spin_lock(btf, value_type)
    if lock is not None and bpf_map.map_type not in SPIN_LOCK_MAP_TYPES:
        _bad("bpf_spin_lock is not supported in this map type", errno.EOPNOTSUPP)
    if bpf_map.map_type in NO_BTF_TYPES:
        _bad("this map type takes no BTF", ENOTSUPP)
    if bpf_map.map_type in ARRAY_TYPES:
        _array_check_btf(bpf_map, key_type, value_type)
    bpf_map.spin_lock_off = lock


def _array_check_btf(bpf_map, key_type, value_type) -> None:
    """array_map_check_btf."""
    if key_type is None:
        feature = KEYLESS_FEATURE[bpf_map.map_type]
        if not bpf_map.config.has(feature) or bpf_map.max_entries != 1:
            _bad("a keyless array map needs max_entries 1 (global data)")
        if value_type.kind != K.DATASEC:
            _bad("a keyless array map's value must be a DATASEC")
        return
    if key_type.kind != K.INT or key_type.nr_bits != 32 or key_type.bits_offset:
        _bad("array map key must be a 32-bit INT")
