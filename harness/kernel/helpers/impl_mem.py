"""probe_read helpers (kernel/trace/bpf_trace.c): copy from any address, never fault.

"Kernel memory" is whatever the VM maps; an unmapped source gives -EFAULT and a zeroed
destination, exactly as copy_from_kernel_nofault failures do.
"""

from __future__ import annotations

import errno

from harness.kernel.helpers.call import HelperCall, MemFault
from harness.kernel.helpers.registry import helper


@helper("probe_read_kernel")
@helper("probe_read")
def probe_read_kernel(h: HelperCall) -> int:
    dst, size, src = h.arg(1), h.arg(2) & 0xFFFFFFFF, h.arg(3)
    if not size:
        return 0
    try:
        data = h.read(src, size)
    except MemFault:
        h.write(dst, bytes(size))
        return -errno.EFAULT
    h.write(dst, data)
    return 0


@helper("probe_read_kernel_str")
def probe_read_kernel_str(h: HelperCall) -> int:
    """Copies at most size-1 bytes plus a NUL; returns the length including the NUL."""
    dst, size, src = h.arg(1), h.arg(2) & 0xFFFFFFFF, h.arg(3)
    if not size:
        return 0
    out = bytearray()
    try:
        while len(out) < size - 1:
            b = h.read(src + len(out), 1)
            if b == b"\0":
                break
            out += b
    except MemFault:
        h.write(dst, bytes(size))
        return -errno.EFAULT
    h.write(dst, bytes(out) + b"\0")
    return len(out) + 1
