"""Python skeletons: what `bpftool gen skeleton` gives a C program, as Python objects.

    skel = Skeleton.open("test_global_percpu_data.o", kernel=k)
    skel.percpu.data          # typed view of the .percpu initial image (before load: writable)
    skel.maps.percpu          # the Map (lookup_elem(..., cpu=i) / update_elem(..., all_cpus=True))
    skel.load()
    skel.progs.update_percpu_data.test_run(ctx_in=..., cpu=i)
    skel.bss.run              # after load: the live .bss map
    skel.destroy()

Identifiers are bpftool's (naming.map_ident): percpu, percpu_data, percpu_looooooooong,
data_percpu, bss, rodata.  A section gets an attribute when bpftool would emit a
`struct <obj>__<ident>` for it (is_skel_data): mmapable internal maps, and per-CPU data
maps that have a BTF DATASEC.  Section views always look at the map's current image, so
they follow libbpf's image life cycle (image.py).
"""

from __future__ import annotations

import errno
from types import SimpleNamespace

from harness.elf import btf_kinds as K
from harness.kernelapi import BpfError, Kernel
from harness.libbpf.btfview import BytesImage, DatasecView, read_value
from harness.libbpf.maps import Map
from harness.libbpf.object import Object
from harness.uapi import BPF_F_MMAPABLE, MapType


class _MapImageRef:
    """Follows `map.image` (it changes at load) so a view taken early stays valid."""

    def __init__(self, m: Map):
        self.m = m

    def _img(self):
        if self.m.image is None:
            raise BpfError(errno.ENOENT, f"map '{self.m.name}': no memory image (not mmapable after load)")
        return self.m.image

    def read(self, off: int, size: int) -> bytes:
        return self._img().read(off, size)

    def write(self, off: int, data: bytes) -> None:
        self._img().write(off, data)


def is_skel_data(m: Map) -> bool:
    """bpftool's is_skel_data()."""
    if not m.internal or m.ident is None:
        return False
    if m.type == MapType.PERCPU_ARRAY:
        return bool(m.btf_value_type_id)
    return bool(m.map_flags & BPF_F_MMAPABLE)


class Skeleton:
    def __init__(self, obj: Object):
        self.obj = obj
        self.maps = SimpleNamespace()
        self.progs = SimpleNamespace()
        self._sections: dict[str, DatasecView] = {}
        for m in obj.maps:
            ident = m.ident
            if ident is None:
                continue
            setattr(self.maps, ident, m)
            if is_skel_data(m) and obj.btf is not None and m.btf_value_type_id:
                if obj.btf.type_by_id(m.btf_value_type_id).kind == K.DATASEC:
                    self._sections[ident] = DatasecView(obj.btf, m.btf_value_type_id, _MapImageRef(m))
        for p in obj.programs:
            setattr(self.progs, p.name, p)

    @classmethod
    def open(cls, path: str, kernel: Kernel | None = None, **kw) -> "Skeleton":
        return cls(Object.open(path, kernel, **kw))

    @classmethod
    def open_and_load(cls, path: str, kernel: Kernel | None = None, **kw) -> "Skeleton":
        skel = cls.open(path, kernel, **kw)
        skel.load()
        return skel

    def __getattr__(self, name: str):
        sections = self.__dict__.get("_sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(f"skeleton has no section or attribute {name!r}")

    @property
    def sections(self) -> list[str]:
        return list(self._sections)

    def load(self, **kw) -> None:
        self.obj.load(**kw)

    def destroy(self) -> None:
        self.obj.destroy()

    def decode(self, m: Map, value: bytes):
        """A typed, read-only view of one value of `m` (e.g. a per-CPU lookup result)."""
        if self.obj.btf is None or not m.btf_value_type_id:
            return bytes(value)
        tid = m.btf_value_type_id
        if self.obj.btf.type_by_id(tid).kind == K.DATASEC:
            return DatasecView(self.obj.btf, tid, BytesImage(value))
        return read_value(self.obj.btf, tid, BytesImage(value), 0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.destroy()
