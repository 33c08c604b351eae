"""struct bpf_map: one map of an object, before and after creation.

A Map carries libbpf's definition (type, key/value sizes, max_entries, flags), its three
names (naming.py), its BTF key/value type ids, the initial image of an internal map
(image.py), and after load its fd.  The element operations check their arguments the way
libbpf's bpf_map__*_elem() do (validate.py) and then go to the kernel unchanged: libbpf
leaves CPU range checks and flag combinations to the kernel, and so do we.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.kernelapi import BpfError
from harness.libbpf.image import BufferImage, LiveMapImage
from harness.libbpf.naming import LibbpfMapType, map_ident, map_uses_real_name
from harness.libbpf.validate import MapOpTarget, validate_map_op
from harness.uapi import (BPF_F_ALL_CPUS, BPF_F_CPU, PERCPU_MAP_TYPES, MapType, round_up)

if TYPE_CHECKING:
    from harness.libbpf.object import Object

LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME = 0, 1


def cpu_flags(cpu: int | None = None, all_cpus: bool = False, flags: int = 0) -> int:
    """The u64 flags word for a CPU-targeted operation (CPU number in bits 32..63)."""
    if cpu is not None:
        flags |= (cpu << 32) | BPF_F_CPU
    if all_cpus:
        flags |= BPF_F_ALL_CPUS
    return flags


@dataclass
class MapDef:
    """libbpf's struct bpf_map_def plus what BTF-defined maps add."""
    type: int = MapType.UNSPEC
    key_size: int = 0
    value_size: int = 0
    max_entries: int = 0
    map_flags: int = 0
    numa_node: int = 0
    map_extra: int = 0
    pinning: int = LIBBPF_PIN_NONE


@dataclass(eq=False)
class Map:
    obj: "Object"
    name: str                          # kernel-visible name (map->name)
    real_name: str                     # section name for internal maps, variable name otherwise
    def_: MapDef
    libbpf_type: LibbpfMapType = LibbpfMapType.UNSPEC
    sec_idx: int = -1
    sec_offset: int = 0                # offset of the definition in .maps
    btf_key_type_id: int = 0
    btf_value_type_id: int = 0
    inner: "Map | None" = None         # template of the inner map (map-in-map)
    init_slots: list = field(default_factory=list)   # static values: Program / Map / None
    values_member_off: int = -1        # offset of `values` in a BTF map definition
    image: BufferImage | LiveMapImage | None = None
    fd: int = -1
    autocreate: bool = True
    reused: bool = False
    skipped_reason: str = ""           # why autocreate was turned off (feature missing)

    # ------------------------------------------------------------- identity
    @property
    def internal(self) -> bool:
        return self.libbpf_type != LibbpfMapType.UNSPEC

    @property
    def user_name(self) -> str:
        """bpf_map__name(): the section name for custom and per-CPU data maps."""
        if self.internal and map_uses_real_name(self.libbpf_type, self.real_name):
            return self.real_name
        return self.name

    def bpf_map__name(self) -> str:
        return self.user_name

    @property
    def ident(self) -> str | None:
        """The identifier bpftool gives this map in a skeleton."""
        return map_ident(self.user_name, self.internal, self.def_.type)

    type = property(lambda self: self.def_.type)
    key_size = property(lambda self: self.def_.key_size)
    value_size = property(lambda self: self.def_.value_size)
    max_entries = property(lambda self: self.def_.max_entries)
    map_flags = property(lambda self: self.def_.map_flags)

    @property
    def created(self) -> bool:
        """libbpf's map_is_created(): the object was loaded or the map reused."""
        return self.obj.loaded or self.reused

    # -------------------------------------------------------- setters (pre-load)
    def _check_not_created(self) -> None:
        if self.created:
            raise BpfError(errno.EBUSY, f"map '{self.name}': already created")

    def set_type(self, map_type: int) -> None:
        self._check_not_created()
        self.def_.type = map_type

    def set_max_entries(self, n: int) -> None:
        self._check_not_created()
        self.def_.max_entries = n

    def set_map_flags(self, flags: int) -> None:
        self._check_not_created()
        self.def_.map_flags = flags

    def set_key_size(self, n: int) -> None:
        self._check_not_created()
        self.def_.key_size = n

    def set_autocreate(self, on: bool) -> None:
        if self.obj.loaded:
            raise BpfError(errno.EBUSY, f"map '{self.name}': object already loaded")
        self.autocreate = bool(on)

    def set_initial_value(self, data: bytes) -> None:
        """bpf_map__set_initial_value(): -EBUSY after load, -EINVAL without an image or for
        .kconfig, and the size must equal value_size (upstream-spec §4.8)."""
        if self.obj.loaded or self.reused:
            raise BpfError(errno.EBUSY, f"map '{self.name}': object already loaded")
        if self.image is None or self.libbpf_type == LibbpfMapType.KCONFIG:
            raise BpfError(errno.EINVAL, f"map '{self.name}': has no initial value image")
        if len(data) != self.def_.value_size:
            raise BpfError(errno.EINVAL, f"map '{self.name}': initial value size {len(data)} != "
                                         f"value size {self.def_.value_size}")
        self.image.write(0, bytes(data))

    def initial_value(self) -> bytes | None:
        """bpf_map__initial_value(): the image bytes (size == value_size), None without one."""
        if self.image is None:
            return None
        return self.image.read(0, self.def_.value_size)

    def set_value_size(self, size: int) -> None:
        """bpf_map__set_value_size(): before creation only; with an image only ARRAY and
        PERCPU_ARRAY can be resized, the image is reallocated (min(old,new) bytes kept)
        and the DATASEC's last array variable is grown to match (§4.8)."""
        if self.created:
            raise BpfError(errno.EBUSY, f"map '{self.name}': already created")
        if self.image is not None:
            if self.def_.type not in (MapType.ARRAY, MapType.PERCPU_ARRAY):
                raise BpfError(errno.EOPNOTSUPP, f"map '{self.name}': cannot be resized")
            if self.btf_value_type_id:
                try:
                    self.obj._resize_datasec(self, size)
                except BpfError as exc:
                    if exc.errno != errno.ENOENT:
                        self.obj.log.append(f"map '{self.name}': failed to adjust resized BTF, clearing "
                                            f"BTF key/value info: {exc}")
                        self.btf_key_type_id = self.btf_value_type_id = 0
            self.image.resize(size)
        self.def_.value_size = size

    # ---------------------------------------------------------- element ops
    def _target(self) -> MapOpTarget:
        return MapOpTarget(self.name, self.def_.type, self.def_.key_size, self.def_.value_size,
                           self.created, self.fd)

    def _nr_cpus(self) -> int:
        return self.obj.kernel.nr_possible_cpus()

    def expected_value_size(self, flags: int = 0) -> int:
        """What value_sz libbpf expects for these flags (helps callers size buffers)."""
        if self.def_.type in PERCPU_MAP_TYPES and not flags & (BPF_F_CPU | BPF_F_ALL_CPUS):
            return round_up(self.def_.value_size, 8) * self._nr_cpus()
        return self.def_.value_size

    def lookup_elem(self, key: bytes, flags: int = 0, *, value_size: int | None = None,
                    cpu: int | None = None, all_cpus: bool = False) -> bytes:
        """bpf_map__lookup_elem(map, key, key_sz, value, value_sz, flags)."""
        flags = cpu_flags(cpu, all_cpus, flags)
        vs = self.expected_value_size(flags) if value_size is None else value_size
        validate_map_op(self._target(), len(key), vs, True, flags, self._nr_cpus())
        return self.obj.kernel.map_lookup_elem(self.fd, bytes(key), flags)

    def update_elem(self, key: bytes, value: bytes, flags: int = 0, *,
                    cpu: int | None = None, all_cpus: bool = False) -> None:
        """bpf_map__update_elem(map, key, key_sz, value, value_sz, flags)."""
        flags = cpu_flags(cpu, all_cpus, flags)
        validate_map_op(self._target(), len(key), len(value), True, flags, self._nr_cpus())
        self.obj.kernel.map_update_elem(self.fd, bytes(key), bytes(value), flags)

    def lookup_and_delete_elem(self, key: bytes, flags: int = 0, *, value_size: int | None = None) -> bytes:
        vs = self.expected_value_size(flags) if value_size is None else value_size
        validate_map_op(self._target(), len(key), vs, True, flags, self._nr_cpus())
        return self.obj.kernel.map_lookup_and_delete_elem(self.fd, bytes(key), flags)

    def delete_elem(self, key: bytes, flags: int = 0) -> None:
        validate_map_op(self._target(), len(key), 0, False, flags, self._nr_cpus())
        self.obj.kernel.map_delete_elem(self.fd, bytes(key))

    def get_next_key(self, key: bytes | None) -> bytes:
        validate_map_op(self._target(), self.def_.key_size if key is None else len(key), 0, False, 0,
                        self._nr_cpus())
        return self.obj.kernel.map_get_next_key(self.fd, None if key is None else bytes(key))

    def _key(self, key: int | bytes) -> bytes:
        return key.to_bytes(self.def_.key_size, "little") if isinstance(key, int) else bytes(key)

    def lookup(self, key: int | bytes = 0, *, cpu: int | None = None, all_cpus: bool = False,
               flags: int = 0) -> bytes:
        """Skeleton-style lookup: an int key is encoded in key_size bytes."""
        return self.lookup_elem(self._key(key), flags, cpu=cpu, all_cpus=all_cpus)

    def update(self, key: int | bytes, value: bytes, *, cpu: int | None = None, all_cpus: bool = False,
               flags: int = 0) -> None:
        self.update_elem(self._key(key), value, flags, cpu=cpu, all_cpus=all_cpus)

    def per_cpu_values(self, key: bytes) -> list[bytes]:
        """Convenience: the value of every possible CPU, split from one plain lookup."""
        raw = self.lookup_elem(key)
        stride = round_up(self.def_.value_size, 8)
        return [raw[i * stride:i * stride + self.def_.value_size] for i in range(self._nr_cpus())]

    # --------------------------------------------------------- after load
    def attach_live_image(self) -> None:
        """After creation: mmapable internal maps show the kernel map; per-CPU images
        become read-only (mprotect), other images are dropped (munmap)."""
        if self.image is None:
            return
        if self.def_.type == MapType.PERCPU_ARRAY:
            self.image.readonly = True
        elif self.fd >= 0 and self.def_.map_flags & 0x400:     # BPF_F_MMAPABLE
            writable = self.libbpf_type not in (LibbpfMapType.RODATA, LibbpfMapType.KCONFIG)
            self.image = LiveMapImage(self.obj.kernel, self.fd, self.def_.value_size, self.name, writable)
        else:
            self.image = None

    def __repr__(self) -> str:
        return f"<Map {self.user_name!r} kernel name {self.name!r} type {self.def_.type} fd {self.fd}>"
