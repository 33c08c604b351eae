"""Formatting helpers: trace_printk, trace_vprintk, snprintf, strncmp, seq_printf, seq_write.

trace_printk output is captured per run (RunState.output -> TestRunResult.output) instead
of going to the trace pipe; seq_* write the iterator's seq_file (RunState.seq).
"""

from __future__ import annotations

import errno

from harness.kernel.helpers.call import HelperCall
from harness.kernel.helpers.printf import MAX_BPRINTF_VARARGS, MAX_TRACE_PRINTK_VARARGS, BadFormat, bprintf
from harness.kernel.helpers.registry import helper

SEQ_BUF_LIMIT = 1 << 20       # a read(2) of an iterator never returns more here


def _fmt(h: HelperCall, addr: int, size: int) -> bytes | None:
    """The fmt buffer up to its NUL; None (-> -EINVAL) when it is not NUL-terminated."""
    if not size:
        return None
    raw = h.read(addr, size)
    if raw[-1:] != b"\0":
        return None
    return raw[:raw.index(b"\0")]


def _data_args(h: HelperCall, addr: int, data_len: int) -> list[int] | None:
    if data_len % 8 or data_len > MAX_BPRINTF_VARARGS * 8 or (data_len and not addr):
        return None
    raw = h.read(addr, data_len) if data_len else b""
    return [int.from_bytes(raw[i:i + 8], "little") for i in range(0, data_len, 8)]


def _format(h: HelperCall, fmt: bytes | None, args: list[int] | None, max_args: int) -> str | None:
    if fmt is None or args is None:
        return None
    try:
        return bprintf(fmt, args, h.read_str, max_args)
    except BadFormat:
        return None


@helper("trace_printk")
def trace_printk(h: HelperCall) -> int:
    fmt = _fmt(h, h.arg(1), h.arg(2) & 0xFFFFFFFF)
    text = _format(h, fmt, [h.arg(3), h.arg(4), h.arg(5)], MAX_TRACE_PRINTK_VARARGS)
    if text is None:
        return -errno.EINVAL
    h.state.output.append(text)
    return len(text)


@helper("trace_vprintk")
def trace_vprintk(h: HelperCall) -> int:
    fmt = _fmt(h, h.arg(1), h.arg(2) & 0xFFFFFFFF)
    text = _format(h, fmt, _data_args(h, h.arg(3), h.arg(4) & 0xFFFFFFFF), MAX_BPRINTF_VARARGS)
    if text is None:
        return -errno.EINVAL
    h.state.output.append(text)
    return len(text)


@helper("snprintf")
def snprintf(h: HelperCall) -> int:
    """Writes at most str_size bytes, always NUL-terminated; returns the untruncated length
    plus one for the NUL."""
    dst, size = h.arg(1), h.arg(2) & 0xFFFFFFFF
    fmt = h.read_str(h.arg(3))
    text = _format(h, fmt, _data_args(h, h.arg(4), h.arg(5) & 0xFFFFFFFF), MAX_BPRINTF_VARARGS)
    if text is None:
        return -errno.EINVAL
    raw = text.encode("latin-1")
    if size:
        h.write(dst, raw[:size - 1] + b"\0")
    return len(raw) + 1


@helper("strncmp")
def strncmp(h: HelperCall) -> int:
    """strncmp(s1, s2, s1_sz) with the kernel's lib/string.c result: -1, 0 or 1."""
    n = h.arg(2) & 0xFFFFFFFF
    s1 = h.read(h.arg(1), n)
    s2 = h.read_str(h.arg(3)) or b""
    for i in range(n):
        c1 = s1[i]
        c2 = s2[i] if i < len(s2) else 0
        if c1 != c2:
            return -1 if c1 < c2 else 1
        if not c1:
            break
    return 0


def _seq(h: HelperCall) -> bytearray | None:
    seq = h.state.seq
    return seq if seq is not None and len(seq) < SEQ_BUF_LIMIT else None


@helper("seq_write")
def seq_write(h: HelperCall) -> int:
    seq = _seq(h)
    data = h.read(h.arg(2), h.arg(3) & 0xFFFFFFFF)
    if seq is None:
        return -errno.EOVERFLOW
    seq += data
    return 0


@helper("seq_printf")
def seq_printf(h: HelperCall) -> int:
    fmt = _fmt(h, h.arg(2), h.arg(3) & 0xFFFFFFFF)
    text = _format(h, fmt, _data_args(h, h.arg(4), h.arg(5) & 0xFFFFFFFF), MAX_BPRINTF_VARARGS)
    if text is None:
        return -errno.EINVAL
    seq = _seq(h)
    if seq is None:
        return -errno.EOVERFLOW
    seq += text.encode("latin-1")
    return 0
