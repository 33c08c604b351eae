"""What a helper implementation sees of the running program: `HelperCall`.

Implementations (impl_*.py) are written against this small interface, not against the
VM directly, so helper semantics (the kernel's behaviour) stay separate from how the VM
lays out memory.  runenv.VmHelperCall implements it over harness.kernel.vm; tests use a
plain in-memory implementation.

A helper returns an int (its r0, as u64 or negative errno) and never raises for a
program-visible failure; `MemFault` from read/write means the program passed memory the
verifier should have refused, and the caller turns it into a clean test_run error.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any


class MemFault(Exception):
    """An access outside every memory region the program may touch."""


class TailCall(Exception):
    """Raised by bpf_tail_call on success: the VM must continue in `prog` with the same
    context (the current program does not return)."""

    def __init__(self, prog):
        super().__init__(f"tail call into prog id {getattr(prog, 'id', '?')}")
        self.prog = prog


@dataclass
class RunState:
    """Per-test_run state the helpers share (one program invocation and its tail calls)."""
    kernel: Any
    prog: Any
    cpu: int
    output: list[str] = field(default_factory=list)
    tail_call_cnt: int = 0
    seq: bytearray | None = None          # the seq_file of an iterator read
    locks_held: list = field(default_factory=list)
    ringbuf_records: dict = field(default_factory=dict)   # id(record) -> (map, record)
    frame: Any = None                     # progtypes.PacketFrame of skb / xdp test runs

    @property
    def nr_cpus(self) -> int:
        return self.kernel.config.nr_cpus

    # Clock and PRNG live on the kernel object so that they are deterministic per kernel
    # (seeded from config.seed) and monotonic across runs.
    def clock_ns(self, step: int = 1000) -> int:
        now = getattr(self.kernel, "_vclock_ns", 1_000_000_000) + step
        self.kernel._vclock_ns = now
        return now

    def prandom(self) -> random.Random:
        rng = getattr(self.kernel, "_prandom", None)
        if rng is None:
            rng = self.kernel._prandom = random.Random(self.kernel.config.seed)
        return rng


class HelperCall:
    """The interface; see the module docstring.  Addresses are u64 ints."""

    state: RunState

    def arg(self, n: int) -> int:
        """Register r<n> (1..5) as an unsigned 64-bit value."""
        raise NotImplementedError

    def read(self, addr: int, size: int) -> bytes:
        raise NotImplementedError

    def write(self, addr: int, data: bytes) -> None:
        raise NotImplementedError

    def map_arg(self, n: int):
        """The map object an ARG_CONST_MAP_PTR register designates."""
        raise NotImplementedError

    def expose(self, storage, writable: bool = True) -> int:
        """The address at which the program sees `storage` (a live bytearray of a map
        element, a ring buffer record...); the same storage gives the same address."""
        raise NotImplementedError

    def callback(self, func_addr: int, args: list[int]) -> int:
        """Run the program's callback subprogram (bpf_loop, for_each) and return its r0."""
        raise NotImplementedError

    def forget(self, storage) -> None:
        """`storage` is dead (a submitted ring buffer record): drop its address."""

    def percpu_ptr(self, cookie: int, cpu: int) -> int:
        """bpf_per_cpu_ptr / this_cpu_ptr: the address of `cpu`'s copy of the per-CPU
        object the cookie names (0 when it names none)."""
        return 0

    def storage_at(self, addr: int):
        """(storage, offset) of an address previously returned by `expose`, or None."""
        raise NotImplementedError

    def read_str(self, addr: int, limit: int = 4096) -> bytes | None:
        """A NUL-terminated string (without the NUL), or None when unreadable."""
        out = bytearray()
        try:
            while len(out) < limit:
                b = self.read(addr + len(out), 1)
                if b == b"\0":
                    return bytes(out)
                out += b
        except MemFault:
            return None if not out else bytes(out)
        return bytes(out)
