"""Packet helpers of test_run programs (net/core/filter.c) over RunState.frame
(progtypes.PacketFrame): skb_load_bytes, skb_store_bytes, xdp_get_buff_len and the XDP
boundary movers xdp_adjust_head / xdp_adjust_tail / xdp_adjust_meta, with the kernel's
limits (an xdp_frame's 40 bytes at the head, ETH_HLEN of data, metadata a multiple of 4
below 256 bytes, frame_sz = PAGE_SIZE minus the skb_shared_info tailroom).  Offsets of
the skb helpers count from skb->data.  skb_change_* are not emulated."""

from __future__ import annotations

import errno

from harness.kernel.helpers.call import HelperCall
from harness.kernel.helpers.registry import helper
from harness.kernel.progtypes import ETH_HLEN, PAGE_SIZE

BPF_F_RECOMPUTE_CSUM = 1
BPF_F_INVALIDATE_HASH = 2
SIZEOF_XDP_FRAME = 40
XDP_METADATA_MAX = 255      # xdp_metalen_invalid() on 6.18: a u8, multiple of 4 (36 accepted)


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def _window(h: HelperCall, off: int, size: int):
    f = h.state.frame
    if f is None or off > 0xFFFF:
        return None
    start = f.data + off
    if start + size > f.end:
        return None
    return f.buf, start


@helper("skb_load_bytes")
def skb_load_bytes(h: HelperCall) -> int:
    off, dst, size = h.arg(2) & 0xFFFFFFFF, h.arg(3), h.arg(4) & 0xFFFFFFFF
    win = _window(h, off, size)
    if win is None:
        h.write(dst, bytes(size))
        return -errno.EFAULT
    buf, start = win
    h.write(dst, bytes(buf[start:start + size]))
    return 0


@helper("skb_store_bytes")
def skb_store_bytes(h: HelperCall) -> int:
    off, src, size, flags = h.arg(2) & 0xFFFFFFFF, h.arg(3), h.arg(4) & 0xFFFFFFFF, h.arg(5)
    if flags & ~(BPF_F_RECOMPUTE_CSUM | BPF_F_INVALIDATE_HASH):
        return -errno.EINVAL
    win = _window(h, off, size)
    if win is None:
        return -errno.EFAULT
    buf, start = win
    buf[start:start + size] = h.read(src, size)
    return 0


@helper("xdp_get_buff_len")
def xdp_get_buff_len(h: HelperCall) -> int:
    f = h.state.frame
    return 0 if f is None else f.end - f.data + len(f.frags)


@helper("xdp_adjust_head")
def xdp_adjust_head(h: HelperCall) -> int:
    f, delta = h.state.frame, _s32(h.arg(2))
    if f is None:
        return -errno.EINVAL
    metalen = f.data - f.meta
    data = f.data + delta
    if data < SIZEOF_XDP_FRAME + metalen or data > f.end - ETH_HLEN:
        return -errno.EINVAL
    if metalen:
        f.buf[f.meta + delta:f.meta + delta + metalen] = f.buf[f.meta:f.data]
    f.meta += delta
    f.data = data
    f.moved = True
    f.sync()
    return 0


@helper("xdp_adjust_tail")
def xdp_adjust_tail(h: HelperCall) -> int:
    f, delta = h.state.frame, _s32(h.arg(2))
    if f is None:
        return -errno.EINVAL
    if f.frags:                 # the tail is in the last page frag (bpf_xdp_frags_*_tail)
        last = len(f.frags) % PAGE_SIZE or PAGE_SIZE
        if delta > PAGE_SIZE - last or -delta > f.end - f.data + len(f.frags) - ETH_HLEN:
            return -errno.EINVAL
        if delta > 0:
            f.frags += bytes(delta)
        else:
            cut = min(-delta, len(f.frags))          # frags go first, then the linear tail
            del f.frags[len(f.frags) - cut:]
            f.end -= -delta - cut
            f.sync()
        f.moved = True
        return 0
    end = f.end + delta
    if end > len(f.buf) or end < f.data + ETH_HLEN:
        return -errno.EINVAL
    if delta > 0:
        f.buf[f.end:end] = bytes(delta)
    f.end = end
    f.moved = True
    f.sync()
    return 0


@helper("xdp_adjust_meta")
def xdp_adjust_meta(h: HelperCall) -> int:
    f, delta = h.state.frame, _s32(h.arg(2))
    if f is None:
        return -errno.EINVAL
    meta = f.meta + delta
    if meta < SIZEOF_XDP_FRAME or meta > f.data:
        return -errno.EINVAL
    metalen = f.data - meta
    if metalen % 4 or metalen > XDP_METADATA_MAX:
        return -errno.EACCES
    f.meta = meta
    f.moved = True
    f.sync()
    return 0
