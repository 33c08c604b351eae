"""Maps whose values are kernel objects given by fd: PROG_ARRAY, ARRAY_OF_MAPS, HASH_OF_MAPS.

User space writes an fd (u32) and reads back the object's id (map_fd_sys_lookup_elem);
programs see the object itself (tail calls use `get_prog`, map-in-map lookups return the
inner BpfMap).  Objects are resolved through the kernel's fd table at update time and
held by reference, so closing the fd afterwards does not empty the slot.
"""

from __future__ import annotations

import errno

from harness.kernel.maps.array import array_next_key
from harness.kernel.maps.base import BpfMap, index_of
from harness.kernel.maps.hash import HashMap, check_flags
from harness.kernelapi import BpfError
from harness.uapi import BPF_ANY, BPF_EXIST, BPF_F_INNER_MAP, BPF_F_LOCK, ENOTSUPP

_ID = lambda obj: int(obj.id).to_bytes(4, "little")  # noqa: E731


class FdArrayMap(BpfMap):
    """Shared array behaviour of PROG_ARRAY and ARRAY_OF_MAPS (fd_array_map_*)."""
    fd_values = True

    def __init__(self, attr, kernel):
        super().__init__(attr, kernel)
        self._objs: dict[int, object] = {}

    def resolve_fd(self, fd: int):
        raise NotImplementedError

    def meta(self) -> tuple:
        return super().meta() + (self.max_entries,)

    def sys_lookup(self, key, flags):
        obj = self._objs.get(index_of(key))
        if obj is None:
            raise BpfError(errno.ENOENT, "empty slot")
        return _ID(obj)

    def sys_update(self, key, value, flags):
        """bpf_fd_array_map_update_elem: only BPF_ANY, index -> E2BIG, then the fd."""
        if flags != BPF_ANY:
            raise BpfError(errno.EINVAL, "fd array updates take only BPF_ANY")
        index = index_of(key)
        if index >= self.max_entries:
            raise BpfError(errno.E2BIG, f"index {index} >= max_entries {self.max_entries}")
        self._objs[index] = self.resolve_fd(int.from_bytes(value, "little"))

    def sys_delete(self, key):
        index = index_of(key)
        if index >= self.max_entries:
            raise BpfError(errno.E2BIG, f"index {index} >= max_entries {self.max_entries}")
        if self._objs.pop(index, None) is None:
            raise BpfError(errno.ENOENT, "empty slot")

    def sys_get_next_key(self, key):
        return array_next_key(key, self.max_entries)


class ProgArrayMap(FdArrayMap):
    """BPF_MAP_TYPE_PROG_ARRAY: tail-call targets.  The first program stored fixes the
    owner program type; a program of another type is refused (bpf_prog_map_compatible)."""

    owner_prog_type: int | None = None

    def resolve_fd(self, fd):
        prog = self.kernel.fds.objects.get(fd)
        if prog is None and not 0 <= fd <= 2:
            raise BpfError(errno.EBADF, f"fd {fd} is not open")
        if isinstance(prog, BpfMap) or not hasattr(prog, "prog_type"):
            raise BpfError(errno.EINVAL, f"fd {fd} is not a BPF program")
        if self.owner_prog_type is None:
            self.owner_prog_type = prog.prog_type
        elif prog.prog_type != self.owner_prog_type:
            raise BpfError(errno.EINVAL, "program type does not match the prog_array owner")
        return prog

    def get_prog(self, index: int):
        """The tail-call target at `index`, or None (an empty slot: the tail call falls through)."""
        return self._objs.get(index)


def _inner_compatible(template: BpfMap, inner: BpfMap) -> bool:
    """bpf_map_meta_equal / array_map_meta_equal: an inner map must look like the
    template given at creation; arrays also match max_entries unless BPF_F_INNER_MAP."""
    a, b = template.meta(), inner.meta()
    if template.map_flags & BPF_F_INNER_MAP:
        a, b = a[:4], b[:4]
    return a == b


class MapInMapMixin:
    """inner_map_meta: the template map from attr.inner_map_fd (kept by reference)."""

    inner_map_meta: BpfMap | None = None

    def resolve_fd(self, fd):
        inner = self.kernel.map_object(fd)        # EBADF / EINVAL (not a map)
        if not _inner_compatible(self.inner_map_meta, inner):
            raise BpfError(errno.EINVAL, "inner map does not match the map-in-map's inner_map_fd template")
        return inner


class ArrayOfMapsMap(MapInMapMixin, FdArrayMap):
    batch_ops = frozenset({"lookup", "update"})

    def prog_lookup(self, key, cpu):
        index = index_of(key)
        return self._objs.get(index) if index < self.max_entries else None

    def prog_iter(self, cpu):
        for index, inner in sorted(self._objs.items()):
            yield index.to_bytes(4, "little"), inner

    def iter_elems(self):
        for index, inner in sorted(self._objs.items()):
            yield index.to_bytes(4, "little"), _ID(inner)


class HashOfMapsMap(MapInMapMixin, HashMap):
    """HASH_OF_MAPS: hash semantics (NOEXIST/EXIST, E2BIG when full); values are maps."""
    fd_values = True

    def _user_value(self, storage, flags: int) -> bytes:
        return _ID(storage)

    def sys_lookup(self, key, flags):
        inner = self._elems.get(key)
        if inner is None:
            raise BpfError(errno.ENOENT, "no such element")
        return _ID(inner)

    def sys_update(self, key, value, flags):
        if (flags & ~BPF_F_LOCK) > BPF_EXIST:
            raise BpfError(errno.EINVAL, f"flags 0x{flags:x} not valid for a hash update")
        inner = self.resolve_fd(int.from_bytes(value, "little"))
        exists = key in self._elems
        err = check_flags(exists, flags) or (0 if exists else self._insert(key))
        if err:
            raise BpfError(-err, "hash-of-maps update rejected")
        self._elems[key] = inner

    def sys_lookup_and_delete(self, key, flags):
        raise BpfError(ENOTSUPP, "lookup_and_delete not supported by hash of maps")

    def prog_lookup(self, key, cpu):
        return self._elems.get(bytes(key))

    def prog_update(self, key, value, flags, cpu):
        return -ENOTSUPP

    def prog_iter(self, cpu):
        yield from list(self._elems.items())

    def iter_elems(self):
        for key, inner in list(self._elems.items()):
            yield key, _ID(inner)
