"""An in-memory HelperCall and tiny maps, to test helper semantics without the VM."""

from __future__ import annotations

import errno

from harness.kernel.core import KernelConfig
from harness.kernel.helpers.call import HelperCall, MemFault, RunState


class FakeKernel:
    def __init__(self, **cfg):
        self.config = KernelConfig(**cfg)


class FakeMem(HelperCall):
    """Regions at 0x1000_0000 + n * 0x10000; maps and callbacks by handle number."""

    BASE, STRIDE = 0x1000_0000, 0x10000

    def __init__(self, regs=(), cpu=0, **cfg):
        self.state = RunState(FakeKernel(**cfg), prog=None, cpu=cpu)
        self.regs = [0, *regs] + [0] * (6 - len(regs))
        self.regions: list[tuple[int, object, bool]] = []
        self.by_id: dict[int, int] = {}
        self.handles: dict[int, object] = {}
        self.callbacks: dict[int, object] = {}

    # building a scenario
    def region(self, data, writable=True) -> int:
        storage = data if isinstance(data, bytearray) else bytearray(data)
        return self.expose(storage, writable)

    def set_map(self, n: int, m) -> None:
        self.regs[n] = self.expose(m)

    # HelperCall
    def arg(self, n):
        return self.regs[n] & 0xFFFFFFFFFFFFFFFF

    def expose(self, storage, writable=True):
        if id(storage) in self.by_id:
            return self.by_id[id(storage)]
        addr = self.BASE + len(self.regions) * self.STRIDE
        self.regions.append((addr, storage, writable))
        self.by_id[id(storage)] = addr
        return addr

    def storage_at(self, addr):
        for base, storage, _ in self.regions:
            if isinstance(storage, bytearray) and base <= addr < base + max(len(storage), 1):
                return storage, addr - base
        return None

    def _find(self, addr, size, write):
        for base, storage, writable in self.regions:
            if isinstance(storage, bytearray) and base <= addr and addr + size <= base + len(storage):
                if write and not writable:
                    raise MemFault(f"write to read-only {addr:#x}")
                return storage, addr - base
        raise MemFault(f"no memory at {addr:#x} size {size}")

    def read(self, addr, size):
        storage, off = self._find(addr, size, False)
        return bytes(storage[off:off + size])

    def write(self, addr, data):
        storage, off = self._find(addr, len(data), True)
        storage[off:off + len(data)] = data

    def map_arg(self, n):
        for base, obj, _ in self.regions:
            if base == self.arg(n):
                return obj
        raise MemFault("not a map")

    def callback(self, func_addr, args):
        return self.callbacks[func_addr](*args)


class FakeArray:
    """Array map with the program-side API of harness/kernel/maps/base.py."""
    map_type = 2

    def __init__(self, value_size=8, max_entries=4, key_size=4):
        self.key_size, self.value_size, self.max_entries = key_size, value_size, max_entries
        self.elems = [bytearray(value_size) for _ in range(max_entries)]

    def prog_lookup(self, key, cpu):
        i = int.from_bytes(key, "little")
        return self.elems[i] if i < self.max_entries else None

    def prog_update(self, key, value, flags, cpu):
        i = int.from_bytes(key, "little")
        if flags > 2:
            return -errno.EINVAL
        if i >= self.max_entries:
            return -errno.E2BIG
        if flags == 1:
            return -errno.EEXIST
        self.elems[i][:] = value
        return 0

    def prog_delete(self, key, cpu):
        return -errno.EINVAL

    def prog_lookup_percpu(self, key, cpu):
        return None

    def prog_iter(self, cpu):
        for i, e in enumerate(self.elems):
            yield i.to_bytes(4, "little"), e


class FakePercpuArray(FakeArray):
    map_type = 6

    def __init__(self, value_size=8, max_entries=2, nr_cpus=4):
        super().__init__(value_size, max_entries)
        self.copies = [[bytearray(value_size) for _ in range(max_entries)] for _ in range(nr_cpus)]

    def prog_lookup(self, key, cpu):
        i = int.from_bytes(key, "little")
        return self.copies[cpu][i] if i < self.max_entries else None

    def prog_lookup_percpu(self, key, target_cpu):
        i = int.from_bytes(key, "little")
        if target_cpu >= len(self.copies) or i >= self.max_entries:
            return None
        return self.copies[target_cpu][i]


class FakeProgArray:
    map_type = 3

    def __init__(self, progs):
        self.progs = progs
        self.max_entries = len(progs)

    def get_prog(self, index):
        return self.progs[index]
