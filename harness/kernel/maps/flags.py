"""Element-operation flag checks shared by every map command (upstream-spec §1.4-1.6).

`check_op_flags` is the kernel's bpf_map_check_op_flags(): the order of its checks decides
which errno a caller sees when several things are wrong at once, so it is kept literally.
"""

from __future__ import annotations

import errno

from harness.kernelapi import BpfError
from harness.uapi import BPF_F_ALL_CPUS, BPF_F_CPU, BPF_F_LOCK, PERCPU_MAP_TYPES, round_up

CPU_FLAGS = BPF_F_CPU | BPF_F_ALL_CPUS
ALL_BITS = (1 << 64) - 1

#: Low flag bits each syscall command passes to the validator (spec §1.5).  Hash maps
#: have their own lookup batch mask, computed in hash.py.
ALLOWED = {
    "lookup": BPF_F_LOCK | BPF_F_CPU,
    "update": ALL_BITS,
    "update_batch": BPF_F_LOCK | BPF_F_CPU | BPF_F_ALL_CPUS,
    "lookup_batch": BPF_F_LOCK | BPF_F_CPU,
}


def supports_cpu_flags(bpf_map) -> bool:
    """bpf_map_supports_cpu_flags(): only the per-CPU map types of §1.3."""
    return bpf_map.map_type in PERCPU_MAP_TYPES


def check_op_flags(bpf_map, flags: int, allowed: int) -> None:
    """Raise the first failing check of §1.4, in the kernel's order."""
    flags &= ALL_BITS
    low, cpu = flags & 0xFFFFFFFF, flags >> 32
    if not bpf_map.config.has("cpu_flags"):
        # a kernel before 2b421662: the CPU flags and the upper word are unknown bits
        allowed &= ~CPU_FLAGS
        if cpu:
            raise BpfError(errno.EINVAL, "upper 32 flag bits set")
    if low & ~allowed & 0xFFFFFFFF:
        raise BpfError(errno.EINVAL, f"flags 0x{low:x} not allowed for this command")
    if flags & BPF_F_LOCK and bpf_map.spin_lock_off is None:
        raise BpfError(errno.EINVAL, "BPF_F_LOCK on a map value without bpf_spin_lock")
    if not flags & BPF_F_CPU and cpu:
        raise BpfError(errno.EINVAL, "upper 32 flag bits set without BPF_F_CPU")
    if flags & CPU_FLAGS:
        if not supports_cpu_flags(bpf_map):
            raise BpfError(errno.EINVAL, "BPF_F_CPU/BPF_F_ALL_CPUS on a map that is not per-CPU")
        if flags & CPU_FLAGS == CPU_FLAGS:
            raise BpfError(errno.EINVAL, "BPF_F_CPU and BPF_F_ALL_CPUS are mutually exclusive")
        if flags & BPF_F_CPU and cpu >= bpf_map.nr_cpus:
            raise BpfError(errno.ERANGE, f"cpu {cpu} >= {bpf_map.nr_cpus} possible CPUs")


def user_value_size(bpf_map, flags: int) -> int:
    """bpf_map_value_size(): the size of one value in a syscall buffer (§1.6)."""
    if flags & CPU_FLAGS:
        return bpf_map.value_size
    if bpf_map.map_type in PERCPU_MAP_TYPES:
        return round_up(bpf_map.value_size, 8) * bpf_map.nr_cpus
    if bpf_map.fd_values:
        return 4
    return bpf_map.value_size
