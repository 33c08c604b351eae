"""Declarative little-endian record layouts for BTF and BTF.ext.

Each on-disk record is declared once, with the field names of the kernel header that
specifies it (include/uapi/linux/btf.h, include/uapi/linux/bpf.h, libbpf's
libbpf_internal.h).  A declaration gives a namedtuple class that knows its size and how
to unpack itself from a buffer and pack itself back, so readers and writers never do
offset arithmetic by hand.  Subclass the result to add derived properties.

    BtfMember = record("btf_member", "name_off:I type:I offset:I")
"""

from __future__ import annotations

import struct
from collections import namedtuple


def record(c_name: str, spec: str):
    """A record type for `struct c_name`; `spec` lists `field:fmt` with struct formats."""
    fields = [item.split(":") for item in spec.split()]
    base = namedtuple(c_name, [name for name, _ in fields])
    packer = struct.Struct("<" + "".join(fmt for _, fmt in fields))

    class Record(base):
        __slots__ = ()
        C_NAME = c_name
        SIZE = packer.size
        STRUCT = packer

        @classmethod
        def unpack_from(cls, buf, offset: int = 0):
            return cls._make(packer.unpack_from(buf, offset))

        @classmethod
        def iter_unpack(cls, buf):
            return map(cls._make, packer.iter_unpack(buf))

        def pack(self) -> bytes:
            return packer.pack(*self)

    Record.__name__ = Record.__qualname__ = c_name
    return Record
