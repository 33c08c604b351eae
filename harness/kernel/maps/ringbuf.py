"""BPF_MAP_TYPE_RINGBUF (kernel/bpf/ringbuf.c behaviour, without the shared memory).

The data area (max_entries bytes) is accounted, not allocated: a record costs
round_up(size + 8, 8) bytes (8-byte header) until the consumer passes it, and a reservation
fails when the producer would get max_entries bytes ahead of the consumer — the kernel's
`new_prod_pos - cons_pos > mask` test.  Records are handed out as bytearrays; submit and
discard find them by identity.  `consume()` plays the user-space consumer: it returns
committed records in order and stops at the first one still reserved (busy).
"""

from __future__ import annotations

import errno

from harness.kernel.maps.base import BpfMap
from harness.uapi import round_up

BPF_RINGBUF_HDR_SZ = 8
RINGBUF_MAX_RECORD_SZ = (1 << 32) // 4 - 1   # UINT_MAX / 4

_BUSY, _COMMITTED, _DISCARDED = "busy", "committed", "discarded"


class RingbufMap(BpfMap):
    def __init__(self, attr, kernel):
        super().__init__(attr, kernel)
        self._records: list[list] = []      # [length, buffer, state] from consumer to producer
        self._used = 0

    def reserve(self, size: int) -> bytearray | None:
        """bpf_ringbuf_reserve: a zeroed sample of `size` bytes, or None when it cannot fit."""
        if size < 0 or size > RINGBUF_MAX_RECORD_SZ:
            return None
        length = round_up(size + BPF_RINGBUF_HDR_SZ, 8)
        if self._used + length > self.max_entries - 1:
            return None
        buf = bytearray(size)
        self._records.append([length, buf, _BUSY])
        self._used += length
        return buf

    def _finish(self, buf: bytearray, state: str) -> None:
        for rec in self._records:
            if rec[1] is buf and rec[2] == _BUSY:
                rec[2] = state
                return
        raise ValueError("not a reserved ring buffer sample of this map")

    def submit(self, buf: bytearray) -> None:
        self._finish(buf, _COMMITTED)

    def discard(self, buf: bytearray) -> None:
        self._finish(buf, _DISCARDED)

    def output(self, data: bytes) -> int:
        """bpf_ringbuf_output: copy `data` into a new committed record; 0 or -EAGAIN."""
        buf = self.reserve(len(data))
        if buf is None:
            return -errno.EAGAIN
        buf[:] = data
        self.submit(buf)
        return 0

    def consume(self) -> list[bytes]:
        """Committed samples in order (discarded ones skipped), up to the first busy one."""
        out = []
        while self._records and self._records[0][2] != _BUSY:
            length, buf, state = self._records.pop(0)
            self._used -= length
            if state == _COMMITTED:
                out.append(bytes(buf))
        return out

    def avail_data(self) -> int:
        """bpf_ringbuf_query(BPF_RB_AVAIL_DATA): bytes not yet consumed."""
        return self._used

    def meta(self) -> tuple:
        return super().meta() + (self.max_entries,)
