"""BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE (kernel/bpf/local_storage.c behaviour, spec §2.3).

Elements are not created by user space: attaching a program that uses the map to a
cgroup creates the (cgroup, attach type) element.  The program-commands area does that
through `storage_create(key)`; everything else here is the element-level syscall
surface the BPF_F_CPU selftest exercises (no batch operations).
"""

from __future__ import annotations

import errno

from harness.kernel.maps.base import BpfMap
from harness.kernel.maps.percpu import PercpuSlots, copy_in, copy_out
from harness.kernelapi import BpfError
from harness.uapi import BPF_ANY, BPF_EXIST, BPF_F_ALL_CPUS, BPF_F_CPU

_UPDATE_MASK = BPF_ANY | BPF_EXIST | BPF_F_CPU | BPF_F_ALL_CPUS


class PercpuCgroupStorageMap(BpfMap):
    def __init__(self, attr, kernel):
        super().__init__(attr, kernel)
        self._elems: dict[bytes, PercpuSlots] = {}

    def storage_create(self, key: bytes) -> PercpuSlots:
        """What a cgroup attach does: make the zeroed per-CPU storage for `key`."""
        key = bytes(key)
        if len(key) != self.key_size:
            raise BpfError(errno.EINVAL, f"cgroup storage key must be {self.key_size} bytes")
        return self._elems.setdefault(key, PercpuSlots(self.value_size))

    def sys_lookup(self, key, flags):
        slots = self._elems.get(key)
        if slots is None:
            raise BpfError(errno.ENOENT, "no storage for this cgroup")
        return copy_out(slots, flags, self.nr_cpus)

    def sys_update(self, key, value, flags):
        """bpf_percpu_cgroup_storage_update: NOEXIST and LOCK are rejected (§2.3)."""
        if flags & 0xFFFFFFFF & ~_UPDATE_MASK:
            raise BpfError(errno.EINVAL, f"flags 0x{flags:x} not valid for a cgroup storage update")
        slots = self._elems.get(key)
        if slots is None:
            raise BpfError(errno.ENOENT, "no storage for this cgroup")
        copy_in(slots, value, flags, self.nr_cpus, not self.config.has("cpu_flags"))

    def sys_delete(self, key):
        raise BpfError(errno.EINVAL, "cgroup storage cannot be deleted from user space")

    def sys_get_next_key(self, key):
        keys = list(self._elems)
        if key is None:
            if not keys:
                raise BpfError(errno.ENOENT, "map is empty")
            return keys[0]
        if key not in self._elems:
            raise BpfError(errno.ENOENT, "no such element")
        pos = keys.index(key) + 1
        if pos == len(keys):
            raise BpfError(errno.ENOENT, "last element")
        return keys[pos]

    def prog_lookup(self, key, cpu):
        """bpf_get_local_storage: the current CPU's copy of the attached cgroup's storage."""
        slots = self._elems.get(bytes(key))
        return None if slots is None else slots.slot(cpu)

    def prog_lookup_percpu(self, key, target_cpu):
        return None

    def prog_iter(self, cpu):
        for key, slots in list(self._elems.items()):
            yield key, slots.slot(cpu)

    def iter_elems(self):
        for key, slots in list(self._elems.items()):
            yield key, slots.dump(self.nr_cpus)
