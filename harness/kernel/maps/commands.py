"""The map half of bpf(2) for the emulated kernel (mixed into EmulatedKernel).

Each command does what kernel/bpf/syscall.c does before it reaches a map type, in the
same order, so that a call with several mistakes fails with the kernel's errno:
  fd -> read/write permission (BPF_F_RDONLY / BPF_F_WRONLY / frozen: EPERM) -> flags
  (flags.check_op_flags, spec §1.4/1.5) -> key -> value buffer size (§1.6) -> the map.

Python stands in for user memory, so two decisions replace "the kernel reads N bytes":
* a key or value whose length differs from what the kernel would read is EINVAL (the
  real kernel would read the wrong bytes or fault; refusing is the useful mirror);
  batch key/value buffers must be exactly count * size bytes;
* `key=None` is a NULL pointer: required for key_size 0 maps, "first key" for
  get_next_key, EFAULT elsewhere.
A batch update/delete that fails part-way raises BpfError with `.count` set to the
number of elements processed (the kernel writes it back to attr->batch.count).
"""

from __future__ import annotations

import errno

from harness.kernel.btfobj import BtfObject
from harness.kernel.maps.base import BpfMap
from harness.kernel.maps.btfcheck import check_map_btf
from harness.kernel.maps.create import create_map
from harness.kernel.maps.flags import ALLOWED, check_op_flags, user_value_size
from harness.kernelapi import BatchResult, BpfError, MapCreateAttr, MapInfo
from harness.uapi import BPF_F_LOCK, ENOTSUPP, MapType


def _perm(ok: bool, what: str) -> None:
    if not ok:
        raise BpfError(errno.EPERM, f"map is not {what} from user space")


def _key(m: BpfMap, key: bytes | None) -> bytes | None:
    """__bpf_copy_key(): NULL only for key_size 0; otherwise exactly key_size bytes."""
    if m.key_size == 0:
        if key is not None:
            raise BpfError(errno.EINVAL, "key must be NULL (None) for a map with key_size 0")
        return None
    if key is None:
        raise BpfError(errno.EFAULT, "NULL key")
    key = bytes(key)
    if len(key) != m.key_size:
        raise BpfError(errno.EINVAL, f"key is {len(key)} bytes, map key_size is {m.key_size}")
    return key


def _value(m: BpfMap, value: bytes, flags: int) -> bytes:
    size = user_value_size(m, flags)
    value = bytes(value)
    if len(value) != size:
        raise BpfError(errno.EINVAL, f"value is {len(value)} bytes, the kernel reads {size}")
    return value


def _batch_op(m: BpfMap, op: str) -> None:
    if op not in m.batch_ops:
        raise BpfError(ENOTSUPP, f"map type has no {op} batch operation")


def _split(buf: bytes, size: int, count: int, what: str) -> list[bytes]:
    buf = bytes(buf)
    if len(buf) != size * count:
        raise BpfError(errno.EINVAL, f"{what} buffer is {len(buf)} bytes, expected {count} * {size}")
    return [buf[i * size:(i + 1) * size] for i in range(count)]


class MapCommands:
    """BPF_MAP_* commands.  Map objects live in self.fds (see harness/kernel/maps/base.py)."""

    def _map(self, fd: int) -> BpfMap:
        if 0 <= fd <= 2 and fd not in self.fds.objects:
            # stdin/stdout/stderr: open files that are not maps (__bpf_map_get: EINVAL)
            raise BpfError(errno.EINVAL, f"fd {fd} is not a bpf map")
        return self.fds.get(fd, BpfMap)

    def map_object(self, fd: int) -> BpfMap:
        """The BpfMap behind `fd` (for the program loader and the VM)."""
        return self._map(fd)

    # ------------------------------------------------------------------ create
    def map_create(self, attr: MapCreateAttr) -> int:
        m = create_map(attr, self)
        if attr.btf_key_type_id or attr.btf_value_type_id:
            btf_obj = self.fds.get(attr.btf_fd)
            if not isinstance(btf_obj, BtfObject):
                raise BpfError(errno.EINVAL, f"btf_fd {attr.btf_fd} is not a BTF object")
            check_map_btf(m, btf_obj, attr.btf_key_type_id, attr.btf_value_type_id)
            m.btf, m.btf_id = btf_obj, btf_obj.id
            m.btf_key_type_id, m.btf_value_type_id = attr.btf_key_type_id, attr.btf_value_type_id
        m.id = self.fds.new_id()
        return self.fds.install(m)

    # ------------------------------------------------------------------ elements
    def map_lookup_elem(self, fd: int, key: bytes | None, flags: int = 0) -> bytes:
        m = self._map(fd)
        _perm(m.sys_can_read(), "readable")
        check_op_flags(m, flags, ALLOWED["lookup"])
        return m.sys_lookup(_key(m, key), flags)

    def map_update_elem(self, fd: int, key: bytes | None, value: bytes, flags: int = 0) -> None:
        m = self._map(fd)
        _perm(m.sys_can_write(), "writable")
        check_op_flags(m, flags, ALLOWED["update"])
        key = _key(m, key)
        m.sys_update(key, _value(m, value, flags), flags)

    def map_delete_elem(self, fd: int, key: bytes | None) -> None:
        m = self._map(fd)
        _perm(m.sys_can_write(), "writable")
        m.sys_delete(_key(m, key))

    def map_get_next_key(self, fd: int, key: bytes | None) -> bytes:
        m = self._map(fd)
        _perm(m.sys_can_read(), "readable")
        return m.sys_get_next_key(None if key is None else _key(m, key))

    def map_lookup_and_delete_elem(self, fd: int, key: bytes | None, flags: int = 0) -> bytes:
        m = self._map(fd)
        if flags and m.map_type in (MapType.QUEUE, MapType.STACK):
            raise BpfError(errno.EINVAL, "pop takes no flags")
        if flags & ~BPF_F_LOCK:
            raise BpfError(errno.EINVAL, f"flags 0x{flags:x}: lookup_and_delete takes only BPF_F_LOCK")
        if flags & BPF_F_LOCK and m.spin_lock_off is None:
            raise BpfError(errno.EINVAL, "BPF_F_LOCK on a map value without bpf_spin_lock")
        _perm(m.sys_can_read() and m.sys_can_write(), "readable and writable")
        return m.sys_lookup_and_delete(_key(m, key), flags)

    # ------------------------------------------------------------------ batches
    def _batch_map(self, fd: int, read: bool, write: bool) -> BpfMap:
        m = self._map(fd)
        if read:
            _perm(m.sys_can_read(), "readable")
        if write:
            _perm(m.sys_can_write(), "writable")
        return m

    def map_lookup_batch(self, fd: int, in_batch: bytes | None, count: int,
                         elem_flags: int = 0, flags: int = 0) -> BatchResult:
        m = self._batch_map(fd, True, False)
        _batch_op(m, "lookup")
        if m.sys_lookup_batch is not None:
            return m.sys_lookup_batch(in_batch, count, elem_flags, flags, False)
        return self._generic_lookup_batch(m, in_batch, count, elem_flags, flags)

    def map_lookup_and_delete_batch(self, fd: int, in_batch: bytes | None, count: int,
                                    elem_flags: int = 0, flags: int = 0) -> BatchResult:
        m = self._batch_map(fd, True, True)
        _batch_op(m, "lookup_and_delete")
        return m.sys_lookup_batch(in_batch, count, elem_flags, flags, True)

    @staticmethod
    def _generic_lookup_batch(m: BpfMap, in_batch, count, elem_flags, flags) -> BatchResult:
        """generic_map_lookup_batch: walk get_next_key from in_batch (a key); out_batch is
        the last key returned; reaching the end is reported as out_batch None.  Unlike the
        hash version it does not look at batch.flags (checked on a 6.18 kernel)."""
        check_op_flags(m, elem_flags, ALLOWED["lookup_batch"])
        if count == 0:
            return BatchResult(b"", b"", 0, in_batch)
        prev = None if in_batch is None else _key(m, in_batch)
        keys, values, ended = [], [], False
        while len(keys) < count:
            try:
                k = m.sys_get_next_key(prev)
            except BpfError as e:
                if e.errno != errno.ENOENT:
                    raise
                ended = True
                break
            prev = k
            try:
                values.append(m.sys_lookup(k, elem_flags))
            except BpfError as e:
                if e.errno != errno.ENOENT:
                    raise
                continue
            keys.append(k)
        return BatchResult(b"".join(keys), b"".join(values), len(keys), None if ended else prev)

    def map_update_batch(self, fd: int, keys: bytes, values: bytes, count: int,
                         elem_flags: int = 0, flags: int = 0) -> int:
        m = self._batch_map(fd, False, True)
        _batch_op(m, "update")
        check_op_flags(m, elem_flags, ALLOWED["update_batch"])
        if count == 0:
            return 0
        key_list = _split(keys, m.key_size, count, "keys")
        value_list = _split(values, user_value_size(m, elem_flags), count, "values")
        return self._each(count, lambda i: m.sys_update(key_list[i], value_list[i], elem_flags))

    def map_delete_batch(self, fd: int, keys: bytes, count: int, elem_flags: int = 0, flags: int = 0) -> int:
        m = self._batch_map(fd, False, True)
        _batch_op(m, "delete")
        if elem_flags & ~BPF_F_LOCK:
            raise BpfError(errno.EINVAL, f"elem_flags 0x{elem_flags:x}: delete batch takes only BPF_F_LOCK")
        if elem_flags & BPF_F_LOCK and m.spin_lock_off is None:
            raise BpfError(errno.EINVAL, "BPF_F_LOCK on a map value without bpf_spin_lock")
        if count == 0:
            return 0
        key_list = _split(keys, m.key_size, count, "keys")
        return self._each(count, lambda i: m.sys_delete(key_list[i]))

    @staticmethod
    def _each(count: int, op) -> int:
        for i in range(count):
            try:
                op(i)
            except BpfError as e:
                e.count = i
                raise
        return count

    # ------------------------------------------------------------------ object
    def map_freeze(self, fd: int) -> None:
        """map_freeze: no special fields, writable (a second freeze is EPERM: a frozen
        map is no longer writable from user space)."""
        m = self._map(fd)
        if m.spin_lock_off is not None:
            raise BpfError(ENOTSUPP, "maps with special fields cannot be frozen")
        _perm(m.sys_can_write(), "writable")
        m.frozen = True

    def map_get_info(self, fd: int) -> MapInfo:
        m = self._map(fd)
        return MapInfo(type=m.map_type, id=m.id, key_size=m.key_size, value_size=m.value_size,
                       max_entries=m.max_entries, map_flags=m.map_flags, name=m.name,
                       btf_id=m.btf_id, btf_key_type_id=m.btf_key_type_id,
                       btf_value_type_id=m.btf_value_type_id, map_extra=m.map_extra)
