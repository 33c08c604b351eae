"""BTF on-disk records and the table of kinds (kernel include/uapi/linux/btf.h).

A type record is `struct btf_type` (name_off, info, size|type) followed by, depending on
its kind, one fixed record ("single") and/or `vlen` repeated records ("member"):

    info:  bit 31 kind_flag | bits 24-30 kind | bits 0-23 vlen

(The classic kernel used 5 kind bits and 16 vlen bits and required the others to be
zero; the wider masks decode every valid classic BTF identically and also accept the
newer headers, so we use them.)  The KINDS table below is the only place that says which
trailing records a kind has and which of its fields hold type ids; parser, encoder,
validator, dumper and sanitiser all derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.elf.layout import record

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1
BTF_MAX_TYPE = 0x000FFFFF
BTF_MAX_NAME_OFFSET = 0x00FFFFFF

# Header: classic form is 24 bytes; newer kernels append the optional layout section.
BtfHeader = record("btf_header", "magic:H version:B flags:B hdr_len:I type_off:I type_len:I str_off:I str_len:I")
BtfHeaderLayout = record("btf_header_layout", "layout_off:I layout_len:I")  # bytes 24..31 when hdr_len >= 32
BtfType = record("btf_type", "name_off:I info:I size_type:I")

# Trailing records.
BtfInt = record("btf_int", "int_data:I")                         # encoding<<24 | offset<<16 | bits
BtfArray = record("btf_array", "type:I index_type:I nelems:I")
BtfVar = record("btf_var", "linkage:I")
BtfDeclTag = record("btf_decl_tag", "component_idx:i")
BtfParam = record("btf_param", "name_off:I type:I")
BtfVarSecinfo = record("btf_var_secinfo", "type:I offset:I size:I")


class BtfMember(record("btf_member", "name_off:I type:I offset:I")):
    """A struct/union member; with kind_flag the offset packs bitfield_size<<24 | bit offset."""
    __slots__ = ()

    def bit_offset(self, kind_flag: bool) -> int:
        return self.offset & 0xFFFFFF if kind_flag else self.offset

    def bitfield_size(self, kind_flag: bool) -> int:
        return self.offset >> 24 if kind_flag else 0


class BtfEnum(record("btf_enum", "name_off:I val:i")):
    __slots__ = ()

    def value(self, signed: bool) -> int:
        return self.val if signed else self.val & 0xFFFFFFFF


class BtfEnum64(record("btf_enum64", "name_off:I val_lo32:I val_hi32:I")):
    __slots__ = ()

    def value(self, signed: bool) -> int:
        v = (self.val_hi32 << 32) | self.val_lo32
        return v - (1 << 64) if signed and v >> 63 else v


# Kind numbers, named as in the kernel (BTF_KIND_*).
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)

# BTF_INT_ENCODING bits, BTF_VAR_* and BTF_FUNC_* linkage values.
BTF_INT_SIGNED, BTF_INT_CHAR, BTF_INT_BOOL = 1, 2, 4
BTF_VAR_STATIC, BTF_VAR_GLOBAL_ALLOCATED, BTF_VAR_GLOBAL_EXTERN = 0, 1, 2
BTF_FUNC_STATIC, BTF_FUNC_GLOBAL, BTF_FUNC_EXTERN = 0, 1, 2


@dataclass(frozen=True)
class Kind:
    """What follows `struct btf_type` for one kind, and which fields are type ids."""
    name: str
    uses_size: bool = False          # size_type holds a size (else a type id, or 0)
    single: type | None = None       # one trailing record
    member: type | None = None       # vlen trailing records
    single_refs: tuple = ()          # fields of `single` that are type ids
    member_refs: tuple = ()          # fields of each member that are type ids


KINDS: dict[int, Kind] = {
    INT: Kind("INT", uses_size=True, single=BtfInt),
    PTR: Kind("PTR"),
    ARRAY: Kind("ARRAY", single=BtfArray, single_refs=("type", "index_type")),
    STRUCT: Kind("STRUCT", uses_size=True, member=BtfMember, member_refs=("type",)),
    UNION: Kind("UNION", uses_size=True, member=BtfMember, member_refs=("type",)),
    ENUM: Kind("ENUM", uses_size=True, member=BtfEnum),
    FWD: Kind("FWD"),
    TYPEDEF: Kind("TYPEDEF"),
    VOLATILE: Kind("VOLATILE"),
    CONST: Kind("CONST"),
    RESTRICT: Kind("RESTRICT"),
    FUNC: Kind("FUNC"),
    FUNC_PROTO: Kind("FUNC_PROTO", member=BtfParam, member_refs=("type",)),
    VAR: Kind("VAR", single=BtfVar),
    DATASEC: Kind("DATASEC", uses_size=True, member=BtfVarSecinfo, member_refs=("type",)),
    FLOAT: Kind("FLOAT", uses_size=True),
    DECL_TAG: Kind("DECL_TAG", single=BtfDeclTag),
    TYPE_TAG: Kind("TYPE_TAG"),
    ENUM64: Kind("ENUM64", uses_size=True, member=BtfEnum64),
}
KIND_BY_NAME = {k.name: num for num, k in KINDS.items()}

# Kinds whose size_type is a reference to another type (FWD's is always 0).
REF_KINDS = frozenset(n for n, k in KINDS.items() if not k.uses_size and n != FWD)
# Kinds resolve() looks through: modifiers and typedefs.
MODIFIERS = frozenset({TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG})

INT_ENCODING_NAMES = {0: "(none)", BTF_INT_SIGNED: "SIGNED", BTF_INT_CHAR: "CHAR", BTF_INT_BOOL: "BOOL"}
VAR_LINKAGE_NAMES = {BTF_VAR_STATIC: "static", BTF_VAR_GLOBAL_ALLOCATED: "global", BTF_VAR_GLOBAL_EXTERN: "extern"}
FUNC_LINKAGE_NAMES = {BTF_FUNC_STATIC: "static", BTF_FUNC_GLOBAL: "global", BTF_FUNC_EXTERN: "extern"}


def kind_name(kind: int) -> str:
    return KINDS[kind].name if kind in KINDS else "UNKNOWN"
