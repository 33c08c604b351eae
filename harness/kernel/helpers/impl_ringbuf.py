"""BPF ring buffer helpers (kernel/bpf/ringbuf.c) over the RINGBUF map's API
(reserve/submit/discard/output; harness/kernel/maps)."""

from __future__ import annotations

import errno

from harness.kernel.helpers.call import HelperCall
from harness.kernel.helpers.registry import helper

BPF_RB_NO_WAKEUP = 1
BPF_RB_FORCE_WAKEUP = 2
_WAKEUP_FLAGS = BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP
#: bpf_ringbuf_query flags
BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE, BPF_RB_CONS_POS, BPF_RB_PROD_POS = range(4)


@helper("ringbuf_output")
def ringbuf_output(h: HelperCall) -> int:
    m, size, flags = h.map_arg(1), h.arg(3) & 0xFFFFFFFF, h.arg(4)
    if flags & ~_WAKEUP_FLAGS:
        return -errno.EINVAL
    return m.output(h.read(h.arg(2), size) if size else b"")


@helper("ringbuf_reserve")
def ringbuf_reserve(h: HelperCall) -> int:
    m, size, flags = h.map_arg(1), h.arg(2) & 0xFFFFFFFF, h.arg(3)
    if flags:
        return 0
    buf = m.reserve(size)
    if buf is None:
        return 0
    h.state.ringbuf_records[id(buf)] = (m, buf)
    return h.expose(buf)


def _commit(h: HelperCall, how: str) -> int:
    hit = h.storage_at(h.arg(1))
    records = h.state.ringbuf_records
    if hit is None or id(hit[0]) not in records:
        return 0            # the verifier only lets reserved records through
    m, buf = records.pop(id(hit[0]))
    getattr(m, how)(buf)
    h.forget(buf)               # the record pointer is dead after submit/discard
    return 0


@helper("ringbuf_submit")
def ringbuf_submit(h: HelperCall) -> int:
    return _commit(h, "submit")


@helper("ringbuf_discard")
def ringbuf_discard(h: HelperCall) -> int:
    return _commit(h, "discard")


@helper("ringbuf_query")
def ringbuf_query(h: HelperCall) -> int:
    """AVAIL_DATA and RING_SIZE; the emulated ring keeps no byte positions, so CONS_POS is
    0 and PROD_POS equals the unconsumed bytes (positions relative to the consumer)."""
    m, flags = h.map_arg(1), h.arg(2)
    if flags in (BPF_RB_AVAIL_DATA, BPF_RB_PROD_POS):
        return m.avail_data()
    if flags == BPF_RB_RING_SIZE:
        return m.max_entries
    return 0
