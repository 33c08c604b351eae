"""Rewrite BTF for a kernel that lacks some BTF kinds (libbpf's bpf_object__sanitize_btf).

libbpf probes the kernel (FEAT_BTF_* features) and, before BTF_LOAD, replaces what the
kernel would reject by something of the same record size, so that type ids and offsets
used elsewhere (func_info, map value types) stay valid.  The replacements, checked in
this order for each type (the first matching rule wins):

| missing feature | kind found                 | replaced by                                       |
|-----------------|----------------------------|---------------------------------------------------|
| datasec/decl_tag| VAR / DECL_TAG             | INT size=1, 8 bits, no encoding (name kept)       |
| datasec         | DATASEC                    | STRUCT, same size; each var_secinfo -> member     |
|                 |                            | (name = var's name, bits offset = offset*8);      |
|                 |                            | '.' and '?' in the section name become '_'        |
| qmark_datasec   | DATASEC named "?..."       | first char '?' -> '_'                             |
| func            | FUNC_PROTO                 | ENUM size=4, params reinterpreted as enumerators  |
| func            | FUNC                       | TYPEDEF                                           |
| func_global     | FUNC (global)              | FUNC static (linkage 0)                           |
| float           | FLOAT                      | anonymous STRUCT of the same size, no members     |
| type_tag        | TYPE_TAG                   | anonymous CONST                                   |
| enum64          | ENUM (signed flag)         | ENUM with kind_flag cleared                       |
| enum64          | ENUM64                     | UNION of same size whose members all have the     |
|                 |                            | appended INT 'enum64_placeholder' (1 byte), off 0 |
| layout          | header with layout section | layout section dropped (fields zeroed)            |

Names are changed in place in the string section, like libbpf does, so the string section
keeps its length.
"""

from __future__ import annotations

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf, Type

FEATURES = ("func", "datasec", "func_global", "float", "decl_tag", "type_tag", "enum64", "qmark_datasec", "layout")


def needs_sanitization(**features: bool) -> bool:
    """True when any feature is reported missing (absent keys count as present)."""
    return not all(features.get(f, True) for f in FEATURES)


def sanitize(orig: Btf, **features: bool) -> Btf:
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise TypeError(f"unknown BTF features: {sorted(unknown)}")
    has = {f: features.get(f, True) for f in FEATURES}
    btf = orig.copy()
    if not has["layout"] and btf.layout is not None:
        btf.layout = None
        btf.header_tail = bytes(K.BtfHeaderLayout.SIZE) + btf.header_tail[K.BtfHeaderLayout.SIZE:]
    placeholder = 0
    tid = 1
    while tid < btf.nr_types:
        t = btf.types[tid]
        if (not has["datasec"] and t.kind == K.VAR) or (not has["decl_tag"] and t.kind == K.DECL_TAG):
            btf.types[tid] = Type(K.INT, t.name_off, 1, single=K.BtfInt(8))
        elif not has["datasec"] and t.kind == K.DATASEC:
            name = btf.string_at(t.name_off)
            btf.set_string(t.name_off, name.replace(".", "_").replace("?", "_"))
            members = [K.BtfMember(btf.types[v.type].name_off, v.type, v.offset * 8) for v in t.members]
            btf.types[tid] = Type(K.STRUCT, t.name_off, t.size_type, members=members)
        elif not has["qmark_datasec"] and t.kind == K.DATASEC and btf.string_at(t.name_off).startswith("?"):
            btf.set_string(t.name_off, "_" + btf.string_at(t.name_off)[1:])
        elif not has["func"] and t.kind == K.FUNC_PROTO:
            members = [K.BtfEnum.unpack_from(p.pack()) for p in t.members]
            btf.types[tid] = Type(K.ENUM, t.name_off, 4, members=members)
        elif not has["func"] and t.kind == K.FUNC:
            btf.types[tid] = Type(K.TYPEDEF, t.name_off, t.size_type)
        elif not has["func_global"] and t.kind == K.FUNC:
            btf.types[tid] = Type(K.FUNC, t.name_off, t.size_type)
        elif not has["float"] and t.kind == K.FLOAT:
            btf.types[tid] = Type(K.STRUCT, 0, t.size_type)
        elif not has["type_tag"] and t.kind == K.TYPE_TAG:
            btf.types[tid] = Type(K.CONST, 0, t.size_type)
        elif not has["enum64"] and t.kind == K.ENUM:
            btf.types[tid] = Type(K.ENUM, t.name_off, t.size_type, members=list(t.members))
        elif not has["enum64"] and t.kind == K.ENUM64:
            if not placeholder:
                placeholder = btf.add_int("enum64_placeholder", 1, 0)
            members = [K.BtfMember(e.name_off, placeholder, 0) for e in t.members]
            btf.types[tid] = Type(K.UNION, t.name_off, t.size_type, members=members)
        tid += 1
    btf._invalidate()
    return btf
