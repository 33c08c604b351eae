"""The `Kernel` protocol: the bpf(2) commands with Python types.

This is the one seam between user space (harness.libbpf, the matrix, tests) and a kernel.
Two implementations exist: `harness.kernel.EmulatedKernel` (pure Python, every machine)
and `harness.realkernel.RealKernel` (ctypes over bpf(2), only where permitted).  User space
imports this module and `harness.uapi`, never a kernel's internals, so the same loader
drives both kernels and every difference between them is a finding.

Conventions
- Keys and values are `bytes` in the kernel's layout; flags are the raw u64 flag words of
  the UAPI (for BPF_F_CPU the CPU number sits in bits 32..63, exactly as in `attr->flags`).
- Programs are raw instruction bytes (8 bytes per slot, little endian), as bpf(2) takes them.
- Every failure raises `BpfError` carrying the errno and, for loads, the verifier log.
  Nothing else may escape from a kernel method for bad input.
- File descriptors are ints owned by the kernel object; `close(fd)` releases one.
"""

from __future__ import annotations

import errno as _errno
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from harness.uapi import ENOTSUPP


def errno_name(code: int) -> str:
    """Symbolic name of a (positive) errno, with the kernel-internal 524 named ENOTSUPP."""
    if code == ENOTSUPP:
        return "ENOTSUPP"
    return _errno.errorcode.get(code, f"E{code}")


class BpfError(Exception):
    """A bpf(2) command failed.

    `errno` is positive (EINVAL == 22).  `message` is the line the kernel would log for the
    failure (the last meaningful line of the verifier log for loads; libbpf-style text for
    user-space failures), `log` the whole log when there is one.
    """

    def __init__(self, errno: int, message: str = "", log: str = ""):
        self.errno = int(errno)
        self.message = message
        self.log = log
        text = errno_name(self.errno)
        super().__init__(f"{text}: {message}" if message else text)

    @property
    def errno_name(self) -> str:
        return errno_name(self.errno)


@dataclass
class MapCreateAttr:
    """The BPF_MAP_CREATE part of union bpf_attr."""
    map_type: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int = 0
    inner_map_fd: int = 0
    numa_node: int = 0
    map_name: str = ""
    map_ifindex: int = 0
    btf_fd: int = 0
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    btf_vmlinux_value_type_id: int = 0
    map_extra: int = 0


@dataclass
class ProgLoadAttr:
    """The BPF_PROG_LOAD part of union bpf_attr.

    `func_info` and `line_info` are lists of records already converted to instruction
    indices: func_info = [(insn_off, type_id)], line_info = [(insn_off, file_name_off,
    line_off, line_col)] (the kernel's bpf_func_info / bpf_line_info).
    `log_size` 0 with `log_level` > 0 means "unbounded" for the emulated kernel; the real
    kernel backend picks a buffer and retries as needed.
    """
    prog_type: int
    insns: bytes
    license: str = "GPL"
    log_level: int = 0
    log_size: int = 0
    kern_version: int = 0
    prog_flags: int = 0
    prog_name: str = ""
    prog_ifindex: int = 0
    expected_attach_type: int = 0
    prog_btf_fd: int = 0
    func_info: list[tuple[int, int]] = field(default_factory=list)
    line_info: list[tuple[int, int, int, int]] = field(default_factory=list)
    attach_btf_id: int = 0
    attach_btf_obj_fd: int = 0
    attach_prog_fd: int = 0
    fd_array: list[int] = field(default_factory=list)


@dataclass
class ProgLoadResult:
    """A successful load: the fd, the verifier log (empty at log_level 0) and the count of
    processed instructions (bpf_prog_info.verified_insns)."""
    fd: int
    log: str = ""
    verified_insns: int = 0


@dataclass
class TestRunAttr:
    """BPF_PROG_TEST_RUN input.  `data_size_out` / `ctx_size_out` of 0 mean "as large as
    the input" (what the harness usually wants).  `cpu` is honoured only with
    BPF_F_TEST_RUN_ON_CPU in `flags`, as in the kernel."""
    data_in: bytes | None = None
    data_size_out: int = 0
    ctx_in: bytes | None = None
    ctx_size_out: int = 0
    repeat: int = 1
    flags: int = 0
    cpu: int = 0
    batch_size: int = 0


@dataclass
class TestRunResult:
    retval: int
    data_out: bytes = b""
    ctx_out: bytes = b""
    duration: int = 0
    # Emulated kernel only: text the program printed (trace_printk & co), per run.
    output: str = ""


@dataclass
class BatchResult:
    """Result of BPF_MAP_LOOKUP_BATCH / LOOKUP_AND_DELETE_BATCH: `count` elements, keys
    packed back to back (`key_size` each), values packed with the per-element stride of
    upstream-spec §1.6, and the opaque `out_batch` token to pass as the next `in_batch`
    (None when the map has been walked to its end: the kernel's ENOENT after a partial
    batch is folded into this)."""
    keys: bytes
    values: bytes
    count: int
    out_batch: bytes | None


@dataclass
class MapInfo:
    """The bpf_map_info fields the harness reads."""
    type: int
    id: int
    key_size: int
    value_size: int
    max_entries: int
    map_flags: int
    name: str
    btf_id: int = 0
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    map_extra: int = 0


@dataclass
class ProgInfo:
    """The bpf_prog_info fields the harness reads; `xlated` is the post-rewrite program."""
    type: int
    id: int
    name: str
    xlated: bytes = b""
    verified_insns: int = 0
    map_ids: list[int] = field(default_factory=list)
    jited: bool = False


@runtime_checkable
class Kernel(Protocol):
    """bpf(2) as Python methods.  See the module docstring for conventions."""

    #: A short name for reports: "emulated" or "real".
    name: str

    def nr_possible_cpus(self) -> int:
        """What user space learns from /sys/devices/system/cpu/possible."""

    # --- maps -----------------------------------------------------------------
    def map_create(self, attr: MapCreateAttr) -> int: ...
    def map_lookup_elem(self, fd: int, key: bytes | None, flags: int = 0) -> bytes: ...
    def map_update_elem(self, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None: ...
    def map_delete_elem(self, fd: int, key: bytes) -> None: ...
    def map_get_next_key(self, fd: int, key: bytes | None) -> bytes: ...
    def map_lookup_and_delete_elem(self, fd: int, key: bytes | None, flags: int = 0) -> bytes: ...
    def map_lookup_batch(self, fd: int, in_batch: bytes | None, count: int,
                         elem_flags: int = 0, flags: int = 0) -> BatchResult: ...
    def map_lookup_and_delete_batch(self, fd: int, in_batch: bytes | None, count: int,
                                    elem_flags: int = 0, flags: int = 0) -> BatchResult: ...
    def map_update_batch(self, fd: int, keys: bytes, values: bytes, count: int,
                         elem_flags: int = 0, flags: int = 0) -> int: ...
    def map_delete_batch(self, fd: int, keys: bytes, count: int, elem_flags: int = 0, flags: int = 0) -> int: ...
    def map_freeze(self, fd: int) -> None: ...

    # --- BTF and programs -------------------------------------------------------
    def btf_load(self, data: bytes, log_level: int = 0, log_size: int = 0) -> int: ...
    def prog_load(self, attr: ProgLoadAttr) -> ProgLoadResult: ...
    def prog_test_run(self, fd: int, attr: TestRunAttr) -> TestRunResult: ...

    # --- objects, links, iterators ----------------------------------------------
    def map_get_info(self, fd: int) -> MapInfo: ...
    def prog_get_info(self, fd: int) -> ProgInfo: ...
    def link_create(self, prog_fd: int, target_fd: int, attach_type: int, *,
                    iter_map_fd: int = 0, flags: int = 0) -> int: ...
    def iter_create(self, link_fd: int) -> int: ...
    def iter_read(self, iter_fd: int) -> bytes:
        """Read an iterator fd to its end (read(2) until 0)."""
    def close(self, fd: int) -> None: ...
