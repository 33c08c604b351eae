"""Small encoders for the map tests."""

from __future__ import annotations

import struct

from harness.uapi import BPF_F_CPU


def u32(v: int) -> bytes:
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v: int) -> bytes:
    return struct.pack("<Q", v)


def cpu_flag(cpu: int, extra: int = 0) -> int:
    """flags word with BPF_F_CPU and the CPU number in bits 32..63 (spec §1.2)."""
    return (cpu << 32) | BPF_F_CPU | extra


def percpu_u32s(buf: bytes, nr_cpus: int) -> list[int]:
    """The u32 of every CPU in a no-flag per-CPU value (8-byte stride)."""
    assert len(buf) == 8 * nr_cpus
    return [struct.unpack_from("<I", buf, 8 * c)[0] for c in range(nr_cpus)]
