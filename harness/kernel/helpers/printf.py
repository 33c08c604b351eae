"""The printf subset BPF helpers accept (kernel/bpf/helpers.c bpf_bprintf_prepare).

Conversions: %d %i %u %x %X %c %s %p %% with optional `l` / `ll` (%ld %lu %lx %lld %llu
%llx ...), flags `0 - + space`, a width and a precision.  Anything else is -EINVAL for
the helper, as in the kernel.  Integer conversions without `l` use the low 32 bits of the
u64 argument; %s reads a NUL-terminated string from program memory (NULL or an unreadable
address prints nothing, as the kernel's failed nofault copy leaves an empty string); %p prints
16 hex digits like the kernel's hashed pointers, but of the raw value (stable for tests).
"""

from __future__ import annotations

import re
from typing import Callable

MAX_TRACE_PRINTK_VARARGS = 3
MAX_BPRINTF_VARARGS = 12

_SPEC = re.compile(rb"%([-0+ ]*)(\d*)(?:\.(\d+))?(ll|l|h|hh|z)?([a-zA-Z%]?)")


class BadFormat(ValueError):
    """The format string would make the kernel helper return -EINVAL."""


def _signed(v: int, bits: int) -> int:
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def bprintf(fmt: bytes, args: list[int], read_str: Callable[[int], bytes | None],
            max_args: int = MAX_BPRINTF_VARARGS) -> str:
    """Format like the kernel does for trace_printk / snprintf / seq_printf."""
    out: list[str] = []
    pos = 0
    argi = 0
    while True:
        j = fmt.find(b"%", pos)
        if j < 0:
            out.append(fmt[pos:].decode("latin-1"))
            break
        out.append(fmt[pos:j].decode("latin-1"))
        m = _SPEC.match(fmt, j)
        flags, width, prec, length, conv = (m.group(1).decode(), m.group(2).decode(),
                                            m.group(3), m.group(4), m.group(5).decode())
        pos = m.end()
        if conv == "%":
            if flags or width or prec or length:
                raise BadFormat("flags on %%")
            out.append("%")
            continue
        if not conv or conv not in "diuxXcsp" or length in (b"h", b"hh", b"z"):
            raise BadFormat(f"unsupported conversion %{flags}{width}{(length or b'').decode()}{conv}")
        if argi >= max_args:
            raise BadFormat("too many arguments")
        value = args[argi] if argi < len(args) else 0
        argi += 1
        bits = 64 if length in (b"l", b"ll") else 32
        spec = "%" + flags + width + (f".{prec.decode()}" if prec is not None else "")
        if conv in "di":
            text = (spec + "d") % _signed(value, bits)
        elif conv == "u":
            text = (spec + "d") % (value & ((1 << bits) - 1))
        elif conv in "xX":
            text = (spec + conv) % (value & ((1 << bits) - 1))
        elif conv == "c":
            if length:
                raise BadFormat("%c with a length modifier")
            text = (spec + "s") % chr(value & 0xFF)
        elif conv == "p":
            if length:
                raise BadFormat("%p with a length modifier")
            text = (spec + "s") % f"{value & 0xFFFFFFFFFFFFFFFF:016x}"
        else:  # s
            if length:
                raise BadFormat("%s with a length modifier")
            raw = read_str(value) if value else None
            text = (spec + "s") % ("" if raw is None else raw.decode("latin-1"))
        out.append(text)
    return "".join(out)
