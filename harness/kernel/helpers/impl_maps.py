"""Map helpers: lookup/update/delete, per-CPU lookup, for_each_map_elem (kernel/bpf/helpers.c,
kernel/bpf/bpf_iter.c).  The map objects implement the element semantics (program-side API of
harness/kernel/maps/base.py); these functions only move bytes between program memory and maps.
"""

from __future__ import annotations

import errno

from harness.kernel.helpers.call import HelperCall
from harness.kernel.helpers.registry import helper
from harness.uapi import ENOTSUPP


def _key(h: HelperCall, bpf_map, n: int) -> bytes:
    return h.read(h.arg(n), bpf_map.key_size)


def _ptr(h: HelperCall, storage) -> int:
    return 0 if storage is None else h.expose(storage)


@helper("map_lookup_elem")
def map_lookup_elem(h: HelperCall) -> int:
    m = h.map_arg(1)
    return _ptr(h, m.prog_lookup(_key(h, m, 2), h.state.cpu))


@helper("map_update_elem")
def map_update_elem(h: HelperCall) -> int:
    m = h.map_arg(1)
    value = h.read(h.arg(3), m.value_size)
    return m.prog_update(_key(h, m, 2), value, h.arg(4), h.state.cpu)


@helper("map_delete_elem")
def map_delete_elem(h: HelperCall) -> int:
    m = h.map_arg(1)
    return m.prog_delete(_key(h, m, 2), h.state.cpu)


@helper("map_lookup_percpu_elem")
def map_lookup_percpu_elem(h: HelperCall) -> int:
    m = h.map_arg(1)
    cpu = h.arg(3) & 0xFFFFFFFF
    return _ptr(h, m.prog_lookup_percpu(_key(h, m, 2), cpu))


@helper("for_each_map_elem")
def for_each_map_elem(h: HelperCall) -> int:
    """Calls callback(map, key, value, ctx) per element; a non-zero return stops the walk.
    Returns the number of elements visited (the one that stopped it included)."""
    m, fn, ctx, flags = h.map_arg(1), h.arg(2), h.arg(3), h.arg(4)
    if flags:
        return -errno.EINVAL
    done = 0
    for key, storage in list(m.prog_iter(h.state.cpu)):
        done += 1
        ret = h.callback(fn, [h.expose(m), h.expose(bytearray(key), writable=False),
                              h.expose(storage), ctx])
        if ret & 0xFFFFFFFFFFFFFFFF:
            break
    return done


@helper("map_push_elem")
def map_push_elem(h: HelperCall) -> int:
    m = h.map_arg(1)
    push = getattr(m, "prog_push", None)
    if push is None:
        return -ENOTSUPP
    return push(h.read(h.arg(2), m.value_size), h.arg(3))


def _take(h: HelperCall, op: str) -> int:
    m = h.map_arg(1)
    fn = getattr(m, op, None)
    if fn is None:
        return -ENOTSUPP
    value = fn()
    if value is None:
        return -errno.ENOENT
    h.write(h.arg(2), bytes(value)[:m.value_size])
    return 0


@helper("map_pop_elem")
def map_pop_elem(h: HelperCall) -> int:
    return _take(h, "prog_pop")


@helper("map_peek_elem")
def map_peek_elem(h: HelperCall) -> int:
    return _take(h, "prog_peek")
