"""The emulated kernel's map object: attributes, syscall-side hooks, program-side API.

Two kinds of callers use a map:

* MapCommands (commands.py) — the bpf(2) surface.  It does everything common to all
  map types (fd lookup, read/write permissions, flag validation of spec §1.4, key and
  value buffer sizes) and then calls the `sys_*` hooks below with values in the user
  layout of spec §1.6.  Hooks raise kernelapi.BpfError.

* The VM's helper implementations (harness/kernel/vm, another area).  They use the
  PROGRAM-SIDE API, which mirrors what a helper does in the kernel.  `cpu` is always
  the CPU the program runs on.  Return conventions follow the helpers: storage or None,
  0 or a negative errno — never an exception, because a helper never fails a program.

PROGRAM-SIDE API (every map type has these; types without the op return None / -errno):

  prog_lookup(key: bytes, cpu: int) -> bytearray | BpfMap | None
      bpf_map_lookup_elem.  The element's LIVE storage: writes through the bytearray are
      writes to the map, and the same object is returned every call while the element
      lives.  Plain maps: `value_size` bytes.  Per-CPU maps: the current CPU's copy,
      round_up(value_size, 8) bytes (padding included; the verifier bounds accesses by
      value_size).  Map-in-map: the inner BpfMap object.  None: no such element.
  prog_update(key: bytes, value: bytes, flags: int, cpu: int) -> int
      bpf_map_update_elem: 0 or -errno.  `value` has value_size bytes.  Program-side flag
      rules (§2.1/2.2): flags beyond BPF_EXIST -> -EINVAL (plus BPF_F_LOCK allowed on
      maps whose value holds a bpf_spin_lock); per-CPU maps write only `cpu`'s copy.
  prog_delete(key: bytes, cpu: int) -> int
      bpf_map_delete_elem: 0 or -errno (-EINVAL for arrays, -ENOENT when absent).
  prog_lookup_percpu(key: bytes, target_cpu: int) -> bytearray | None
      bpf_map_lookup_percpu_elem: `target_cpu`'s live copy; None when target_cpu >=
      nr_cpus, the element is missing, or the map is not per-CPU.
  direct_value_addr(off: int) -> bytearray | None
      ld_imm64 BPF_PSEUDO_MAP_VALUE (spec §3.1/3.2).  Raises BpfError with the errno the
      verifier must return (EINVAL 'no direct value access support for this map type'
      when the type has no such op).  ARRAY: element 0's live storage (the VM adds `off`).
      PERCPU_ARRAY: validates and returns None — the immediate is a per-CPU *cookie*,
      not an address; the VM turns it into memory when the percpu mov runs, with
      `percpu_elem(0, cpu)`.
  percpu_elem(index: int, cpu: int) -> bytearray        (PERCPU_ARRAY only)
      Element `index`'s live storage on `cpu` (created lazily, zero-filled).
  prog_iter(cpu: int) -> Iterator[(bytes, storage)]
      bpf_for_each_map_elem: (key, live value storage as prog_lookup returns it).
  iter_elems() -> Iterator[(bytes, bytes)]
      The map-element iterator (iter/bpf_map_elem): (key, value bytes); per-CPU maps give
      every possible CPU's round_up(value_size, 8) copy back to back (spec §2.4).
  PROG_ARRAY: get_prog(index) -> program object | None.
  RINGBUF: reserve(size) -> bytearray | None, submit(buf), discard(buf),
      output(data) -> 0 | -EAGAIN, consume() -> list[bytes] (for tests and user space).
  PERCPU_CGROUP_STORAGE: storage_create(key) (what a cgroup attach does).
  QUEUE / STACK: prog_push(value, flags) -> 0 | -errno, prog_pop() / prog_peek() -> bytes | None.

ATTRIBUTES: map_type, key_size, value_size, max_entries, map_flags, name, id, frozen,
btf (kernel BtfObject or None), btf_id, btf_key_type_id, btf_value_type_id,
spin_lock_off (byte offset of the value's bpf_spin_lock, or None), rdonly_prog,
wronly_prog, is_percpu, elem_size (round_up(value_size, 8)), nr_cpus.
"""

from __future__ import annotations

import errno
from typing import Iterator

from harness.kernelapi import BpfError, MapCreateAttr
from harness.uapi import (BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_F_WRONLY_PROG,
                          ENOTSUPP, PERCPU_MAP_TYPES, round_up)

SPIN_LOCK_SIZE = 4


class BpfMap:
    """Common state and default (unsupported) operations of every map type."""

    #: values in syscall buffers are fds/ids (u32), not the stored bytes
    fd_values = False
    #: batch commands the type has ("lookup", "lookup_and_delete", "update", "delete");
    #: the others are ENOTSUPP, as when the kernel's map_ops has no such function
    batch_ops: frozenset[str] = frozenset()

    def __init__(self, attr: MapCreateAttr, kernel):
        self.kernel = kernel
        self.config = kernel.config
        self.nr_cpus = kernel.config.nr_cpus
        self.map_type = attr.map_type
        self.key_size = attr.key_size
        self.value_size = attr.value_size
        self.max_entries = attr.max_entries
        self.map_flags = attr.map_flags
        self.map_extra = attr.map_extra
        self.name = attr.map_name
        self.id = 0
        self.frozen = False
        self.btf = None
        self.btf_id = 0
        self.btf_key_type_id = 0
        self.btf_value_type_id = 0
        self.spin_lock_off: int | None = None

    # ------------------------------------------------------------ attributes
    is_percpu = property(lambda self: self.map_type in PERCPU_MAP_TYPES)
    elem_size = property(lambda self: round_up(self.value_size, 8))
    rdonly_prog = property(lambda self: bool(self.map_flags & BPF_F_RDONLY_PROG))
    wronly_prog = property(lambda self: bool(self.map_flags & BPF_F_WRONLY_PROG))

    def sys_can_read(self) -> bool:
        """map_get_sys_perms() & FMODE_CAN_READ: a BPF_F_WRONLY map is write-only."""
        return not self.map_flags & BPF_F_WRONLY

    def sys_can_write(self) -> bool:
        """map_get_sys_perms() & FMODE_CAN_WRITE: lost by BPF_F_RDONLY and by freezing."""
        return not (self.map_flags & BPF_F_RDONLY or self.frozen)

    def meta(self) -> tuple:
        """What bpf_map_meta_equal() compares when this map is stored in a map-in-map."""
        return (self.map_type, self.key_size, self.value_size, self.map_flags)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} name={self.name!r}>"

    # ------------------------------------------------------------ value copies
    def copy_map_value(self, dst: bytearray, src: bytes) -> None:
        """copy_map_value(): value_size bytes, leaving special fields (the spin lock) alone."""
        off = self.spin_lock_off
        if off is None:
            dst[:self.value_size] = src[:self.value_size]
        else:
            dst[:off] = src[:off]
            dst[off + SPIN_LOCK_SIZE:self.value_size] = src[off + SPIN_LOCK_SIZE:self.value_size]

    def user_copy(self, storage: bytes | bytearray) -> bytes:
        """What a syscall lookup returns for a plain value: special fields read as zero
        (check_and_init_map_value)."""
        out = bytes(storage[:self.value_size])
        off = self.spin_lock_off
        if off is not None:
            out = out[:off] + bytes(SPIN_LOCK_SIZE) + out[off + SPIN_LOCK_SIZE:]
        return out

    # ------------------------------------------------------------ syscall hooks
    def sys_lookup(self, key: bytes | None, flags: int) -> bytes:
        raise BpfError(ENOTSUPP, "lookup not supported by this map type")

    def sys_update(self, key: bytes | None, value: bytes, flags: int) -> None:
        raise BpfError(ENOTSUPP, "update not supported by this map type")

    def sys_delete(self, key: bytes | None) -> None:
        raise BpfError(ENOTSUPP, "delete not supported by this map type")

    def sys_get_next_key(self, key: bytes | None) -> bytes:
        raise BpfError(ENOTSUPP, "get_next_key not supported by this map type")

    def sys_lookup_and_delete(self, key: bytes | None, flags: int) -> bytes:
        raise BpfError(ENOTSUPP, "lookup_and_delete not supported by this map type")

    # lookup batch: None = the generic walk (commands.py); hash maps have their own.
    sys_lookup_batch = None

    def sys_freeze_check(self) -> None:
        """Type-specific reasons a map cannot be frozen (none by default)."""

    # ------------------------------------------------------------ program side
    def prog_lookup(self, key: bytes, cpu: int):
        return None

    def prog_update(self, key: bytes, value: bytes, flags: int, cpu: int) -> int:
        return -ENOTSUPP

    def prog_delete(self, key: bytes, cpu: int) -> int:
        return -ENOTSUPP

    def prog_lookup_percpu(self, key: bytes, target_cpu: int) -> bytearray | None:
        return None

    def direct_value_addr(self, off: int) -> bytearray | None:
        raise BpfError(errno.EINVAL, "no direct value access support for this map type")

    def prog_iter(self, cpu: int) -> Iterator[tuple[bytes, object]]:
        return iter(())

    def iter_elems(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(())


def index_of(key: bytes) -> int:
    """An array map's u32 index from its 4-byte key."""
    return int.from_bytes(key[:4], "little")
