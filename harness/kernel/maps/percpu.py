"""Lazy per-CPU element storage and the per-CPU copy rules of upstream-spec §2.

A per-CPU element owns one `elem_size = round_up(value_size, 8)` slot per *possible* CPU.
A kernel with 4096 possible CPUs must not pay for 4096 slots when a test touches three,
so a slot (a bytearray) is created only when a CPU is written or a program asks for its
live storage.  An untouched CPU reads as `fill`: zeros, or the last BPF_F_ALL_CPUS image
(so that libbpf's "populate every CPU with one image" stays O(1) in memory, §4.7).

Padding bytes (value_size..elem_size) are never written from user space (§2.1: the
series copies with copy_map_value, not copy_map_value_long), so they stay zero.
"""

from __future__ import annotations

from harness.uapi import BPF_EXIST, BPF_F_ALL_CPUS, BPF_F_CPU, round_up


class PercpuSlots:
    """The per-CPU copies of one element."""

    __slots__ = ("value_size", "elem_size", "fill", "slots")

    def __init__(self, value_size: int):
        self.value_size = value_size
        self.elem_size = round_up(value_size, 8)
        self.fill: bytes | None = None        # None: untouched CPUs read as zeros
        self.slots: dict[int, bytearray] = {}

    def slot(self, cpu: int) -> bytearray:
        """The live storage of `cpu` (created on first touch; the same object afterwards)."""
        s = self.slots.get(cpu)
        if s is None:
            s = bytearray(self.fill) if self.fill is not None else bytearray(self.elem_size)
            self.slots[cpu] = s
        return s

    def peek(self, cpu: int) -> bytes | bytearray:
        """Read-only view of `cpu`'s copy without creating it."""
        s = self.slots.get(cpu)
        if s is not None:
            return s
        return self.fill if self.fill is not None else bytes(self.elem_size)

    def write_cpu(self, cpu: int, data: bytes) -> None:
        """copy_map_value into one CPU: value_size bytes, padding untouched (or, for the
        pre-series copy_map_value_long, elem_size bytes when `data` is that long)."""
        n = len(data)
        if cpu not in self.slots and data == bytes(self.peek(cpu)[:n]):
            return      # writing what an untouched CPU already reads as: stay lazy
        self.slot(cpu)[:n] = data

    def write_all(self, data: bytes) -> None:
        """The same value_size bytes to every possible CPU (BPF_F_ALL_CPUS)."""
        for s in self.slots.values():
            s[:self.value_size] = data
        image = bytes(data) + bytes(self.elem_size - self.value_size)
        self.fill = None if not any(image) else image

    def dump(self, nr_cpus: int) -> bytes:
        """Every CPU's elem_size bytes back to back (CPU j at j * elem_size), built from
        the touched slots and one shared image for the rest."""
        untouched = self.fill if self.fill is not None else bytes(self.elem_size)
        if not self.slots:
            return untouched * nr_cpus
        get = self.slots.get
        return b"".join([bytes(get(c, untouched)) for c in range(nr_cpus)])


def copy_out(slots: PercpuSlots, flags: int, nr_cpus: int) -> bytes:
    """What a syscall lookup returns (bpf_percpu_*_copy): one CPU's value_size bytes with
    BPF_F_CPU, else every CPU's 8-rounded slot."""
    if flags & BPF_F_CPU:
        return bytes(slots.peek(flags >> 32)[:slots.value_size])
    return slots.dump(nr_cpus)


def copy_in(slots: PercpuSlots, value: bytes, flags: int, nr_cpus: int, long_copy: bool = False) -> None:
    """A syscall update: BPF_F_CPU writes one CPU, BPF_F_ALL_CPUS replicates one value,
    otherwise CPU j takes value[j * elem_size : j * elem_size + value_size].

    `long_copy`: a kernel before the BPF_F_CPU series (no "cpu_flags" feature) copied
    each CPU's whole 8-byte-rounded slot (copy_map_value_long), padding included."""
    vs, es = slots.value_size, slots.elem_size
    if long_copy:
        vs = es
    if flags & BPF_F_CPU:
        slots.write_cpu(flags >> 32, value)
    elif flags & BPF_F_ALL_CPUS:
        slots.write_all(value)
    else:
        for cpu in range(nr_cpus):
            slots.write_cpu(cpu, value[cpu * es:cpu * es + vs])


def percpu_update_limit(config) -> int:
    """Largest low flag word a per-CPU syscall update accepts: BPF_F_ALL_CPUS since the
    series (§2.1/2.2), BPF_EXIST before it."""
    return BPF_F_ALL_CPUS if config.has("cpu_flags") else BPF_EXIST
