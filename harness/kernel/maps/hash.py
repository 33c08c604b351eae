"""HASH, PERCPU_HASH, LRU_HASH and LRU_PERCPU_HASH (kernel/bpf/hashtab.c behaviour).

Deterministic model decisions (the kernel's order depends on its hash function and
per-CPU free lists, which a test cannot rely on anyway):

* Iteration order (get_next_key, batches, iterators) is insertion order.  An update of
  an existing key keeps its place; delete + re-insert moves the key to the end.
* A batch token (in_batch/out_batch) is a u32 "bucket" number: every element is its own
  bucket, numbered by insertion, so deleting elements never invalidates a token.
* LRU maps evict only when a NEW key is inserted into a map holding max_entries
  elements, and then evict the least recently used element: "used" = inserted, updated
  or looked up by a program (syscall lookups do not count, as in the kernel whose
  syscall lookup path does not set the reference bit).
* A per-CPU element created by a syscall update with BPF_F_CPU has every other CPU
  zeroed (open question §10.2 of the spec; zero is the only safe answer).
"""

from __future__ import annotations

import errno
from collections import OrderedDict

from harness.kernel.maps.base import BpfMap
from harness.kernel.maps.flags import check_op_flags
from harness.kernel.maps.percpu import PercpuSlots, copy_in, copy_out, percpu_update_limit
from harness.kernelapi import BatchResult, BpfError
from harness.uapi import BPF_EXIST, BPF_F_CPU, BPF_F_LOCK, BPF_NOEXIST

_U32 = 0xFFFFFFFF


def check_flags(exists: bool, flags: int) -> int:
    """hashtab's check_flags(): the exact flag word (minus LOCK) is compared with 1 and 2."""
    if exists and flags & ~BPF_F_LOCK == BPF_NOEXIST:
        return -errno.EEXIST
    if not exists and flags & ~BPF_F_LOCK == BPF_EXIST:
        return -errno.ENOENT
    return 0


def _raise(err: int, what: str) -> None:
    if err:
        raise BpfError(-err, what)


class HashMap(BpfMap):
    batch_ops = frozenset({"lookup", "lookup_and_delete", "update", "delete"})
    lru = False
    percpu = False

    def __init__(self, attr, kernel):
        super().__init__(attr, kernel)
        self._elems: dict[bytes, object] = {}
        self._seq: dict[bytes, int] = {}
        self._next_seq = 0
        self._recency: OrderedDict[bytes, None] = OrderedDict()

    # ---------------------------------------------------------------- storage
    def _new_storage(self):
        return PercpuSlots(self.value_size) if self.percpu else bytearray(self.value_size)

    def _touch(self, key: bytes) -> None:
        if self.lru:
            self._recency[key] = None
            self._recency.move_to_end(key)

    def _insert(self, key: bytes) -> int:
        """Make room for and create a new element; 0 or -E2BIG when full (non-LRU)."""
        if len(self._elems) >= self.max_entries:
            if not self.lru:
                return -errno.E2BIG
            victim = next(iter(self._recency))
            self._remove(victim)
        self._elems[key] = self._new_storage()
        self._seq[key] = self._next_seq
        self._next_seq += 1
        return 0

    def _remove(self, key: bytes) -> None:
        del self._elems[key]
        del self._seq[key]
        self._recency.pop(key, None)

    def _update(self, key: bytes, flags: int, write) -> int:
        """Common update path: existence flags, insertion (maybe eviction), then `write`."""
        exists = key in self._elems
        err = check_flags(exists, flags)
        if err:
            return err
        if not exists:
            err = self._insert(key)
            if err:
                return err
        write(self._elems[key])
        self._touch(key)
        return 0

    def _user_value(self, storage, flags: int) -> bytes:
        if self.percpu:
            return copy_out(storage, flags, self.nr_cpus)
        return self.user_copy(storage)

    # ---------------------------------------------------------------- syscall
    def sys_lookup(self, key, flags):
        storage = self._elems.get(key)
        if storage is None:
            raise BpfError(errno.ENOENT, "no such element")
        return self._user_value(storage, flags)

    def sys_update(self, key, value, flags):
        if self.percpu:
            if flags & BPF_F_LOCK or (flags & _U32) > percpu_update_limit(self.config):
                raise BpfError(errno.EINVAL, f"flags 0x{flags:x} not valid for a per-CPU hash update")
            long_copy = not self.config.has("cpu_flags")
            _raise(self._update(key, flags, lambda s: copy_in(s, value, flags, self.nr_cpus, long_copy)),
                   "hash update rejected")
            return
        if (flags & ~BPF_F_LOCK) > BPF_EXIST or (self.lru and flags > BPF_EXIST):
            raise BpfError(errno.EINVAL, f"flags 0x{flags:x} not valid for a hash update")
        _raise(self._update(key, flags, lambda s: self.copy_map_value(s, value)), "hash update rejected")

    def sys_delete(self, key):
        if key not in self._elems:
            raise BpfError(errno.ENOENT, "no such element")
        self._remove(key)

    def sys_get_next_key(self, key):
        keys = list(self._elems)
        if not keys:
            raise BpfError(errno.ENOENT, "map is empty")
        if key is None or key not in self._elems:
            return keys[0]
        pos = keys.index(key) + 1
        if pos == len(keys):
            raise BpfError(errno.ENOENT, "last element")
        return keys[pos]

    def sys_lookup_and_delete(self, key, flags):
        storage = self._elems.get(key)
        if storage is None:
            raise BpfError(errno.ENOENT, "no such element")
        out = self._user_value(storage, 0)
        self._remove(key)
        return out

    def sys_lookup_batch(self, in_batch, count, elem_flags, flags, delete):
        """__htab_map_lookup_and_delete_batch (spec §1.5: CPU only for per-CPU lookup)."""
        allowed = BPF_F_LOCK | (BPF_F_CPU if self.percpu and not delete else 0)
        check_op_flags(self, elem_flags, allowed)
        if flags:
            raise BpfError(errno.EINVAL, "batch.flags must be 0")
        if count == 0:
            return BatchResult(b"", b"", 0, in_batch)
        start = 0
        if in_batch is not None:
            if len(in_batch) < 4:
                raise BpfError(errno.EINVAL, "hash batch token is a u32 bucket number")
            start = int.from_bytes(in_batch[:4], "little")
        todo = [k for k in self._elems if self._seq[k] >= start]
        taken, rest = todo[:count], todo[count:]
        values = b"".join(self._user_value(self._elems[k], elem_flags) for k in taken)
        if delete:
            for k in taken:
                self._remove(k)
        out = self._seq[rest[0]].to_bytes(4, "little") if rest else None
        return BatchResult(b"".join(taken), values, len(taken), out)

    # ---------------------------------------------------------------- program side
    def prog_lookup(self, key, cpu):
        storage = self._elems.get(bytes(key))
        if storage is None:
            return None
        self._touch(bytes(key))
        return storage.slot(cpu) if self.percpu else storage

    def prog_update(self, key, value, flags, cpu):
        key = bytes(key)
        if self.percpu:
            if flags > BPF_EXIST:
                return -errno.EINVAL
            return self._update(key, flags, lambda s: s.slot(cpu).__setitem__(
                slice(0, self.value_size), value[:self.value_size]))
        if (flags & ~BPF_F_LOCK) > BPF_EXIST or (self.lru and flags > BPF_EXIST):
            return -errno.EINVAL
        if flags & BPF_F_LOCK and self.spin_lock_off is None:
            return -errno.EINVAL
        return self._update(key, flags, lambda s: self.copy_map_value(s, value))

    def prog_delete(self, key, cpu):
        key = bytes(key)
        if key not in self._elems:
            return -errno.ENOENT
        self._remove(key)
        return 0

    def prog_lookup_percpu(self, key, target_cpu):
        if not self.percpu or target_cpu >= self.nr_cpus:
            return None
        storage = self._elems.get(bytes(key))
        return None if storage is None else storage.slot(target_cpu)

    def prog_iter(self, cpu):
        for key in list(self._elems):
            storage = self._elems.get(key)
            if storage is not None:
                yield key, storage.slot(cpu) if self.percpu else storage

    def iter_elems(self):
        for key, storage in list(self._elems.items()):
            yield key, storage.dump(self.nr_cpus) if self.percpu else bytes(storage)


class PercpuHashMap(HashMap):
    percpu = True


class LruHashMap(HashMap):
    lru = True


class LruPercpuHashMap(HashMap):
    lru = True
    percpu = True
