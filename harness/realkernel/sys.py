"""The raw bpf(2) system call through libc's syscall(3), and the ctypes buffer helpers.

Only Linux on x86_64 is supported: the syscall number (321) and every layout in attrs.py
are x86_64 facts.  Elsewhere `bpf()` raises BpfError(ENOSYS) instead of calling anything,
so a caller on macOS or arm64 sees a clean "unavailable" rather than a wrong syscall.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import sys

from harness.kernelapi import BpfError
from harness.uapi import Cmd

NR_BPF_X86_64 = 321

_SUPPORTED_MACHINES = frozenset({"x86_64", "amd64"})


def platform_problem() -> str:
    """Why this host cannot use the backend, or "" when it can (Linux x86_64, 64-bit)."""
    if not sys.platform.startswith("linux"):
        return f"bpf(2) needs Linux, this is {sys.platform}"
    machine = platform.machine().lower()
    if machine not in _SUPPORTED_MACHINES:
        return f"the bpf(2) layouts here are x86_64-only, this machine is {machine}"
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return "a 64-bit Python is needed for the bpf(2) layouts"
    return ""


_syscall = None


def _libc_syscall():
    global _syscall
    if _syscall is None:
        fn = ctypes.CDLL(None, use_errno=True).syscall
        fn.restype = ctypes.c_long
        _syscall = fn
    return _syscall


def command_name(cmd: int) -> str:
    try:
        return "BPF_" + Cmd(cmd).name
    except ValueError:
        return f"bpf cmd {cmd}"


def bpf(cmd: int, attr: ctypes.Structure, size: int | None = None) -> int:
    """bpf(cmd, &attr, sizeof(attr)); the non-negative result, or BpfError(errno).

    The caller keeps every buffer the attr points to alive until this returns (the attr
    holds raw addresses, which do not keep Python objects alive)."""
    problem = platform_problem()
    if problem:
        raise BpfError(errno.ENOSYS, problem)
    fn = _libc_syscall()
    ctypes.set_errno(0)
    ret = fn(ctypes.c_long(NR_BPF_X86_64), ctypes.c_long(int(cmd)), ctypes.byref(attr),
             ctypes.c_ulong(ctypes.sizeof(attr) if size is None else size))
    if ret < 0:
        code = ctypes.get_errno() or errno.EINVAL
        raise BpfError(code, f"{command_name(cmd)}: {os.strerror(code)}")
    return int(ret)


def buffer(data: bytes | None = None, size: int = 0) -> ctypes.Array:
    """A writable C buffer holding `data`, at least `size` bytes (zero-filled) and never
    empty, so that its address is always valid."""
    data = data or b""
    return ctypes.create_string_buffer(data, max(len(data), size, 1))


def address(buf: ctypes.Array | None) -> int:
    return ctypes.addressof(buf) if buf is not None else 0
