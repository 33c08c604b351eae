"""Kernel-internal functions that rewritten programs call (not helpers: programs cannot
name them, they have no prototype, and the verifier never sees them).

The kernel's fixups emit `call <function>` to these with an immediate that is the
function's offset from __bpf_call_base, different for every build.  Ours are fixed
negative ids, outside every helper id, so that the xlated program shows a call and the VM
(runenv) can dispatch it: `INTERNAL[imm](h)` with a helpers.call.HelperCall.

* skb_load_helper_{8,16,32}_no_cache(skb, offset) -- what LD_ABS / LD_IND become
  (net/core/filter.c bpf_gen_ld_abs): the byte, big-endian half or word at `offset` from
  skb->data, or below it at SKF_NET_OFF + k (network header) / SKF_LL_OFF + k (mac
  header); -EFAULT when outside the packet, which makes the program return 0.
"""

from __future__ import annotations

import errno

from harness.kernel.helpers.call import HelperCall
from harness.kernel.progtypes import ETH_HLEN

SKB_LOAD_8, SKB_LOAD_16, SKB_LOAD_32 = -0x10001, -0x10002, -0x10004
SKB_LOAD = {1: SKB_LOAD_8, 2: SKB_LOAD_16, 4: SKB_LOAD_32}
SKF_NET_OFF, SKF_LL_OFF = -0x100000, -0x200000


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def skb_load(h: HelperCall, size: int) -> int:
    f = h.state.frame
    if f is None:
        return -errno.EFAULT
    k = _s32(h.arg(2))
    if k >= 0:
        start = f.data + k
    elif k >= SKF_NET_OFF:
        start = ETH_HLEN + k - SKF_NET_OFF        # the frame's buffer starts at the mac header
    elif k >= SKF_LL_OFF:
        start = k - SKF_LL_OFF
    else:
        return -errno.EFAULT
    if start < 0 or start + size > f.end:
        return -errno.EFAULT
    return int.from_bytes(f.buf[start:start + size], "big")


INTERNAL = {hid: (lambda h, n=size: skb_load(h, n)) for size, hid in SKB_LOAD.items()}
