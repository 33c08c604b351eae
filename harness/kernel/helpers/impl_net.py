"""Packet helpers of test_run programs (net/core/filter.c): skb_load_bytes,
skb_store_bytes, xdp_get_buff_len.  Offsets count from skb->data (after the L2 pull for
socket filters) as in the kernel; the packet is RunState.packet.  Helpers that move
packet boundaries (xdp_adjust_head/tail/meta, skb_change_*) are not emulated: calling
one is a clean "not implemented" test_run error."""

from __future__ import annotations

import errno

from harness.kernel.helpers.call import HelperCall
from harness.kernel.helpers.registry import helper

BPF_F_RECOMPUTE_CSUM = 1
BPF_F_INVALIDATE_HASH = 2


def _window(h: HelperCall, off: int, size: int) -> tuple[bytearray, int] | None:
    pkt = h.state.packet
    if pkt is None or off < 0 or off > 0xFFFF:
        return None
    start = h.state.pkt_start + off
    if start + size > len(pkt):
        return None
    return pkt, start


@helper("skb_load_bytes")
def skb_load_bytes(h: HelperCall) -> int:
    off, dst, size = h.arg(2) & 0xFFFFFFFF, h.arg(3), h.arg(4) & 0xFFFFFFFF
    win = _window(h, off, size)
    if win is None:
        h.write(dst, bytes(size))
        return -errno.EFAULT
    pkt, start = win
    h.write(dst, bytes(pkt[start:start + size]))
    return 0


@helper("skb_store_bytes")
def skb_store_bytes(h: HelperCall) -> int:
    off, src, size, flags = h.arg(2) & 0xFFFFFFFF, h.arg(3), h.arg(4) & 0xFFFFFFFF, h.arg(5)
    if flags & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH):
        return -errno.EINVAL
    win = _window(h, off, size)
    if win is None:
        return -errno.EFAULT
    pkt, start = win
    pkt[start:start + size] = h.read(src, size)
    return 0


@helper("xdp_get_buff_len")
def xdp_get_buff_len(h: HelperCall) -> int:
    pkt = h.state.packet
    return 0 if pkt is None else len(pkt) - h.state.pkt_start
