"""A tiny BTF blob builder for the map tests, packed with `struct` from the kernel's
layouts (independent of harness.elf so that the kernel side is tested on its own bytes)."""

from __future__ import annotations

import struct

INT, PTR, ARRAY, STRUCT, VAR, DATASEC, DECL_TAG, FLOAT = 1, 2, 3, 4, 14, 15, 17, 16


class BtfBuilder:
    def __init__(self):
        self.strings = b"\0"
        self.types: list[bytes] = []

    def _str(self, s: str) -> int:
        if not s:
            return 0
        off = len(self.strings)
        self.strings += s.encode() + b"\0"
        return off

    def _add(self, name: str, kind: int, vlen: int, size_type: int, tail: bytes = b"", kflag: int = 0) -> int:
        info = (kflag << 31) | (kind << 24) | vlen
        self.types.append(struct.pack("<III", self._str(name), info, size_type) + tail)
        return len(self.types)

    def int(self, name: str, size: int, signed: bool = True) -> int:
        return self._add(name, INT, 0, size, struct.pack("<I", ((1 if signed else 0) << 24) | size * 8))

    def struct(self, name: str, size: int, members: list[tuple[str, int, int]]) -> int:
        """members: (name, type id, byte offset)."""
        tail = b"".join(struct.pack("<III", self._str(n), t, off * 8) for n, t, off in members)
        return self._add(name, STRUCT, len(members), size, tail)

    def var(self, name: str, type_id: int) -> int:
        return self._add(name, VAR, 0, type_id, struct.pack("<I", 1))

    def datasec(self, name: str, size: int, vars_: list[tuple[int, int, int]]) -> int:
        tail = b"".join(struct.pack("<III", *v) for v in vars_)
        return self._add(name, DATASEC, len(vars_), size, tail)

    def decl_tag(self, name: str, type_id: int, component: int = -1) -> int:
        return self._add(name, DECL_TAG, 0, type_id, struct.pack("<i", component))

    def float(self, name: str, size: int) -> int:
        return self._add(name, FLOAT, 0, size)

    def encode(self) -> bytes:
        types = b"".join(self.types)
        hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(self.strings))
        return hdr + types + self.strings


def standard() -> tuple[bytes, dict[str, int]]:
    """int, u64, struct bpf_spin_lock, a struct holding one, a plain struct, and a
    .percpu / .data DATASEC of one int each."""
    b = BtfBuilder()
    ids = {}
    ids["int"] = b.int("int", 4)
    ids["u64"] = b.int("unsigned long long", 8, signed=False)
    ids["bpf_spin_lock"] = b.struct("bpf_spin_lock", 4, [("val", ids["int"], 0)])
    ids["locked"] = b.struct("locked", 8, [("x", ids["int"], 0), ("lock", ids["bpf_spin_lock"], 4)])
    ids["pair"] = b.struct("pair", 8, [("a", ids["int"], 0), ("b", ids["int"], 4)])
    ids["var"] = b.var("v", ids["int"])
    ids[".percpu"] = b.datasec(".percpu", 4, [(ids["var"], 0, 4)])
    ids["var2"] = b.var("w", ids["int"])
    ids[".data"] = b.datasec(".data", 4, [(ids["var2"], 0, 4)])
    return b.encode(), ids
