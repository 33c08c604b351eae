"""Typed views of bytes, driven by BTF: what a C skeleton's `skel->bss->run` gives in C.

A view never copies: every read and write goes to an image (anything with
read(off, size) / write(off, data), see image.py), so `skel.percpu.data = 2` writes the
initial image before load, and `skel.bss.run` reads the live map after load.  Integers,
bools, enums and pointers come back as Python ints/bools; structs, unions and arrays as
nested views; DATASECs as a view with one attribute per global variable (statics are
hidden, as bpftool hides them from skeletons).
"""

from __future__ import annotations

import struct

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf


class BytesImage:
    """A read-only image over bytes (for decoding a lookup result)."""

    def __init__(self, data: bytes):
        self.data = bytes(data)

    def read(self, off: int, size: int) -> bytes:
        return self.data[off:off + size]

    def write(self, off: int, data: bytes) -> None:
        raise TypeError("this value is a copy from a lookup; update the map to change it")


def _int_codec(btf: Btf, tid: int):
    t = btf.type_by_id(tid)
    if t.kind == K.INT:
        signed = bool(t.encoding & K.BTF_INT_SIGNED)
        return t.size, signed, bool(t.encoding & K.BTF_INT_BOOL)
    if t.kind in (K.ENUM, K.ENUM64):
        return t.size, bool(t.kind_flag), False
    if t.kind == K.PTR:
        return 8, False, False
    return None


def read_value(btf: Btf, tid: int, img, off: int):
    tid = btf.resolve(tid)
    codec = _int_codec(btf, tid)
    t = btf.type_by_id(tid)
    if codec is not None:
        size, signed, is_bool = codec
        val = int.from_bytes(img.read(off, size), "little", signed=signed)
        return bool(val) if is_bool else val
    if t.kind == K.FLOAT:
        return struct.unpack("<f" if t.size == 4 else "<d", img.read(off, t.size))[0]
    if t.kind in (K.STRUCT, K.UNION):
        return StructView(btf, tid, img, off)
    if t.kind == K.ARRAY:
        return ArrayView(btf, tid, img, off)
    raise TypeError(f"BTF type [{tid}] {t.kind_name} has no Python view")


def write_value(btf: Btf, tid: int, img, off: int, value) -> None:
    tid = btf.resolve(tid)
    codec = _int_codec(btf, tid)
    t = btf.type_by_id(tid)
    if codec is not None:
        size, signed, _ = codec
        v = int(value)
        if signed and v < 0:
            v &= (1 << (8 * size)) - 1
        img.write(off, (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little"))
        return
    if t.kind == K.FLOAT:
        img.write(off, struct.pack("<f" if t.size == 4 else "<d", float(value)))
        return
    size = btf.size_of(tid)
    if isinstance(value, (bytes, bytearray)):
        if len(value) != size:
            raise ValueError(f"expected {size} bytes, got {len(value)}")
        img.write(off, bytes(value))
    elif t.kind == K.ARRAY and isinstance(value, (list, tuple)):
        view = ArrayView(btf, tid, img, off)
        for i, v in enumerate(value):
            view[i] = v
    else:
        raise TypeError(f"cannot assign {type(value).__name__} to BTF {t.kind_name}")


class _View:
    __slots__ = ("_btf", "_tid", "_img", "_off")

    def __init__(self, btf: Btf, tid: int, img, off: int = 0):
        object.__setattr__(self, "_btf", btf)
        object.__setattr__(self, "_tid", tid)
        object.__setattr__(self, "_img", img)
        object.__setattr__(self, "_off", off)

    def tobytes(self) -> bytes:
        return self._img.read(self._off, self._btf.size_of(self._tid))


class StructView(_View):
    __slots__ = ()

    def _find(self, name: str, tid: int | None = None, base: int = 0):
        btf = self._btf
        t = btf.type_by_id(self._tid if tid is None else tid)
        for m in t.members:
            mname = btf.string_at(m.name_off)
            off = base + m.bit_offset(t.kind_flag) // 8
            if mname == name:
                return m.type, off
            if not mname:
                inner = btf.resolve(m.type)
                if btf.type_by_id(inner).kind in (K.STRUCT, K.UNION):
                    found = self._find(name, inner, off)
                    if found:
                        return found
        return None

    def __getattr__(self, name: str):
        found = self._find(name)
        if found is None:
            raise AttributeError(f"{self._btf.name_of(self._tid) or 'struct'} has no member {name!r}")
        return read_value(self._btf, found[0], self._img, self._off + found[1])

    def __setattr__(self, name: str, value) -> None:
        found = self._find(name)
        if found is None:
            raise AttributeError(f"{self._btf.name_of(self._tid) or 'struct'} has no member {name!r}")
        write_value(self._btf, found[0], self._img, self._off + found[1], value)

    def __dir__(self):
        return [self._btf.string_at(m.name_off) for m in self._btf.type_by_id(self._tid).members]


class ArrayView(_View):
    __slots__ = ()

    @property
    def _elem(self) -> tuple[int, int, int]:
        a = self._btf.type_by_id(self._tid).single
        return a.type, self._btf.size_of(a.type), a.nelems

    def __len__(self) -> int:
        return self._elem[2]

    def _at(self, i: int) -> int:
        _, size, n = self._elem
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for array of {n}")
        return self._off + i * size

    def __getitem__(self, i: int):
        return read_value(self._btf, self._elem[0], self._img, self._at(i))

    def __setitem__(self, i: int, value) -> None:
        write_value(self._btf, self._elem[0], self._img, self._at(i), value)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def tolist(self) -> list:
        return list(self)


class DatasecView(_View):
    """One attribute per non-static variable of a DATASEC."""
    __slots__ = ()

    def _vars(self) -> dict[str, tuple[int, int]]:
        btf = self._btf
        out = {}
        for v in btf.type_by_id(self._tid).members:
            var = btf.type_by_id(v.type)
            if var.kind == K.VAR and var.single.linkage != K.BTF_VAR_STATIC:
                out[btf.name_of(var)] = (var.type, v.offset)
        return out

    def __getattr__(self, name: str):
        found = self._vars().get(name)
        if found is None:
            raise AttributeError(f"section {self._btf.name_of(self._tid)} has no global variable {name!r}")
        return read_value(self._btf, found[0], self._img, found[1])

    def __setattr__(self, name: str, value) -> None:
        found = self._vars().get(name)
        if found is None:
            raise AttributeError(f"section {self._btf.name_of(self._tid)} has no global variable {name!r}")
        write_value(self._btf, found[0], self._img, found[1], value)

    def __dir__(self):
        return list(self._vars())

    def tobytes(self) -> bytes:
        return self._img.read(0, self._btf.type_by_id(self._tid).size)
