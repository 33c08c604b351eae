"""BPF_MAP_TYPE_ARRAY and BPF_MAP_TYPE_PERCPU_ARRAY (kernel/bpf/arraymap.c behaviour).

Elements always exist (index < max_entries) and are zero until written, so storage is
created lazily on first write or first program access: an array with a million entries
costs nothing until used, and reads of untouched elements return zeros.
"""

from __future__ import annotations

import errno

from harness.kernel.maps.base import BpfMap, index_of
from harness.kernel.maps.percpu import PercpuSlots, copy_in, copy_out, percpu_update_limit
from harness.kernelapi import BpfError
from harness.uapi import BPF_EXIST, BPF_F_LOCK, BPF_NOEXIST, ENOTSUPP

_U32 = 0xFFFFFFFF


def array_next_key(key: bytes | None, max_entries: int) -> bytes:
    """array_map_get_next_key: a missing or out-of-range key restarts at 0."""
    index = _U32 if key is None else index_of(key)
    if index >= max_entries:
        return (0).to_bytes(4, "little")
    if index == max_entries - 1:
        raise BpfError(errno.ENOENT, "last element")
    return (index + 1).to_bytes(4, "little")


def prog_update_errno(bpf_map, index: int, flags: int) -> int:
    """array_map_update_elem's checks, shared by the program side of both array types."""
    if (flags & ~BPF_F_LOCK) > BPF_EXIST:
        return -errno.EINVAL
    if index >= bpf_map.max_entries:
        return -errno.E2BIG
    if flags & BPF_NOEXIST:
        return -errno.EEXIST
    if flags & BPF_F_LOCK and bpf_map.spin_lock_off is None:
        return -errno.EINVAL
    return 0


class ArrayMap(BpfMap):
    batch_ops = frozenset({"lookup", "update"})

    def __init__(self, attr, kernel):
        super().__init__(attr, kernel)
        self._elems: dict[int, bytearray] = {}

    def elem(self, index: int) -> bytearray:
        e = self._elems.get(index)
        if e is None:
            e = self._elems[index] = bytearray(self.value_size)
        return e

    def meta(self) -> tuple:
        return super().meta() + (self.max_entries,)

    # ---------------------------------------------------------------- syscall
    def sys_lookup(self, key, flags):
        index = index_of(key)
        if index >= self.max_entries:
            raise BpfError(errno.ENOENT, f"index {index} >= max_entries {self.max_entries}")
        return self.user_copy(self._elems.get(index, bytes(self.value_size)))

    def sys_update(self, key, value, flags):
        err = prog_update_errno(self, index_of(key), flags)
        if err:
            raise BpfError(-err, "array update rejected")
        self.copy_map_value(self.elem(index_of(key)), value)

    def sys_delete(self, key):
        raise BpfError(errno.EINVAL, "array elements cannot be deleted")

    def sys_get_next_key(self, key):
        return array_next_key(key, self.max_entries)

    # ---------------------------------------------------------------- program side
    def prog_lookup(self, key, cpu):
        index = index_of(key)
        return self.elem(index) if index < self.max_entries else None

    def prog_update(self, key, value, flags, cpu):
        index = index_of(key)
        err = prog_update_errno(self, index, flags)
        if not err:
            self.copy_map_value(self.elem(index), value)
        return err

    def prog_delete(self, key, cpu):
        return -errno.EINVAL

    def direct_value_addr(self, off):
        """array_map_direct_value_addr: only single-element arrays (global data)."""
        if not self.config.has("global_data"):
            return super().direct_value_addr(off)
        if self.max_entries != 1:
            raise BpfError(ENOTSUPP, f"invalid access to map value pointer, value_size={self.value_size} off={off}")
        if off >= self.value_size:
            raise BpfError(errno.EINVAL, f"invalid access to map value pointer, value_size={self.value_size} off={off}")
        return self.elem(0)

    def prog_iter(self, cpu):
        for i in range(self.max_entries):
            yield i.to_bytes(4, "little"), self.elem(i)

    def iter_elems(self):
        zero = bytes(self.value_size)
        for i in range(self.max_entries):
            yield i.to_bytes(4, "little"), bytes(self._elems.get(i, zero))


class PercpuArrayMap(BpfMap):
    batch_ops = frozenset({"lookup", "update"})

    def __init__(self, attr, kernel):
        super().__init__(attr, kernel)
        self._elems: dict[int, PercpuSlots] = {}

    def slots(self, index: int) -> PercpuSlots:
        s = self._elems.get(index)
        if s is None:
            s = self._elems[index] = PercpuSlots(self.value_size)
        return s

    def percpu_elem(self, index: int, cpu: int) -> bytearray:
        """Element `index`'s live copy on `cpu` (resolves the per-CPU cookie of §3.7)."""
        return self.slots(index).slot(cpu)

    def meta(self) -> tuple:
        return super().meta() + (self.max_entries,)

    # ---------------------------------------------------------------- syscall
    def sys_lookup(self, key, flags):
        index = index_of(key)
        if index >= self.max_entries:
            raise BpfError(errno.ENOENT, f"index {index} >= max_entries {self.max_entries}")
        s = self._elems.get(index) or PercpuSlots(self.value_size)
        return copy_out(s, flags, self.nr_cpus)

    def sys_update(self, key, value, flags):
        """bpf_percpu_array_update (§2.1)."""
        index = index_of(key)
        if flags & BPF_F_LOCK or (flags & _U32) > percpu_update_limit(self.config):
            raise BpfError(errno.EINVAL, f"flags 0x{flags:x} not valid for a percpu_array update")
        if index >= self.max_entries:
            raise BpfError(errno.E2BIG, f"index {index} >= max_entries {self.max_entries}")
        if flags == BPF_NOEXIST:
            raise BpfError(errno.EEXIST, "array elements always exist")
        copy_in(self.slots(index), value, flags, self.nr_cpus, not self.config.has("cpu_flags"))

    def sys_delete(self, key):
        raise BpfError(errno.EINVAL, "array elements cannot be deleted")

    def sys_get_next_key(self, key):
        return array_next_key(key, self.max_entries)

    # ---------------------------------------------------------------- program side
    def prog_lookup(self, key, cpu):
        index = index_of(key)
        return self.percpu_elem(index, cpu) if index < self.max_entries else None

    def prog_update(self, key, value, flags, cpu):
        index = index_of(key)
        err = prog_update_errno(self, index, flags)
        if not err:
            self.slots(index).slot(cpu)[:self.value_size] = value[:self.value_size]
        return err

    def prog_delete(self, key, cpu):
        return -errno.EINVAL

    def prog_lookup_percpu(self, key, target_cpu):
        index = index_of(key)
        if target_cpu >= self.nr_cpus or index >= self.max_entries:
            return None
        return self.percpu_elem(index, target_cpu)

    def direct_value_addr(self, off):
        """percpu_array_map_direct_value_addr (§3.1): validates; the address is a cookie."""
        if not self.config.has("percpu_data"):
            return super().direct_value_addr(off)
        msg = f"invalid access to map value pointer, value_size={self.value_size} off={off}"
        if not self.config.has("jit_percpu_insn") or self.max_entries != 1:
            raise BpfError(errno.EOPNOTSUPP, msg)
        if off >= self.value_size:
            raise BpfError(errno.EINVAL, msg)
        return None

    def prog_iter(self, cpu):
        for i in range(self.max_entries):
            yield i.to_bytes(4, "little"), self.percpu_elem(i, cpu)

    def iter_elems(self):
        empty = PercpuSlots(self.value_size)
        for i in range(self.max_entries):
            yield i.to_bytes(4, "little"), self._elems.get(i, empty).dump(self.nr_cpus)
