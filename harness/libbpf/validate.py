"""libbpf's validate_map_op(): the user-space checks before a map element operation.

The order and the messages are libbpf's (upstream-spec §1.8); every message names the map
by its kernel-visible name.  libbpf deliberately leaves the rest to the kernel: it does
not range-check the CPU number, lets BPF_F_ALL_CPUS through on lookups and CPU flags
through on non-per-CPU maps, so those fail with the kernel's errno instead.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from harness.kernelapi import BpfError
from harness.uapi import BPF_F_ALL_CPUS, BPF_F_CPU, PERCPU_MAP_TYPES, round_up


@dataclass(frozen=True)
class MapOpTarget:
    """What validate_map_op looks at on a map."""
    name: str            # kernel-visible name (map->name)
    map_type: int
    key_size: int
    value_size: int
    created: bool        # the object is loaded (or the map reused)
    fd: int              # -1 when the map has no fd (autocreate off, failed)


def validate_map_op(m: MapOpTarget, key_sz: int, value_sz: int, check_value_sz: bool,
                    flags: int, nr_cpus: int) -> None:
    """Raise BpfError like libbpf (errno + its message), or return when the op may go on."""
    if not m.created:
        raise BpfError(errno.ENOENT, "")
    if key_sz != m.key_size:
        raise BpfError(errno.EINVAL, f"map '{m.name}': unexpected key size {key_sz} provided, "
                                     f"expected {m.key_size}")
    if m.fd < 0:
        raise BpfError(errno.EINVAL, f"map '{m.name}': can't use BPF map without FD (was it created?)")
    if not check_value_sz:
        return
    if m.map_type in PERCPU_MAP_TYPES:
        elem_sz = round_up(m.value_size, 8)
        if flags & (BPF_F_CPU | BPF_F_ALL_CPUS):
            if flags & BPF_F_CPU and flags & BPF_F_ALL_CPUS:
                raise BpfError(errno.EINVAL, f"map '{m.name}': BPF_F_CPU and BPF_F_ALL_CPUS are "
                                             "mutually exclusive")
            if value_sz != m.value_size:
                raise BpfError(errno.EINVAL, f"map '{m.name}': unexpected value size {value_sz} "
                                             "provided for either BPF_F_CPU or BPF_F_ALL_CPUS, "
                                             f"expected {m.value_size}")
        elif value_sz != nr_cpus * elem_sz:
            raise BpfError(errno.EINVAL, f"map '{m.name}': unexpected value size {value_sz} provided "
                                         f"for per-CPU map, expected {nr_cpus} * {elem_sz} = "
                                         f"{nr_cpus * elem_sz}")
    elif value_sz != m.value_size:
        raise BpfError(errno.EINVAL, f"map '{m.name}': unexpected value size {value_sz} provided, "
                                     f"expected {m.value_size}")
