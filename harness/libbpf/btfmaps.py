"""BTF-defined maps: the variables of the `.maps` DATASEC (libbpf's parse_btf_map_def).

Each map is a global struct variable whose members encode the definition in their
*types*: `__uint(name, N)` is a pointer to an array of N ints, `__type(name, T)` a
pointer to T, `__array(values, struct inner)` a zero-length array of pointers to the
inner map's own definition struct.  Unknown members are an error for outer maps (libbpf
is strict there).  Errors are raised as BpfError(EINVAL/ENOTSUP) with libbpf's wording.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from harness.elf import btf_kinds as K
from harness.elf.btf import Btf
from harness.kernelapi import BpfError
from harness.libbpf.maps import MapDef

_UINT_FIELDS = ("type", "max_entries", "map_flags", "numa_node", "pinning", "key_size", "value_size",
                "map_extra")


@dataclass
class BtfMapDef:
    name: str
    offset: int                       # in .maps
    size: int
    def_: MapDef
    key_type_id: int = 0
    value_type_id: int = 0
    inner: "BtfMapDef | None" = None
    values_member_off: int = -1       # byte offset of `values` inside the definition
    set_fields: set = field(default_factory=set)


def _err(code: int, msg: str) -> BpfError:
    return BpfError(code, msg)


def _uint_value(btf: Btf, map_name: str, member_name: str, type_id: int) -> int:
    t = btf.type_by_id(btf.resolve(type_id))
    if t.kind != K.PTR:
        raise _err(errno.EINVAL, f"map '{map_name}': attr '{member_name}': expected PTR, got {t.kind_name}.")
    arr = btf.type_by_id(t.type)
    if arr.kind != K.ARRAY:
        raise _err(errno.EINVAL, f"map '{map_name}': attr '{member_name}': type [{t.type}] is not an array.")
    return arr.single.nelems


def _enum_value(btf: Btf, type_id: int) -> int:
    t = btf.type_by_id(btf.resolve(type_id))
    return t.members[0].value(False) if t.members else 0


def parse_map_def(btf: Btf, name: str, def_type_id: int, strict: bool = True,
                  is_inner: bool = False) -> BtfMapDef:
    st_id = btf.resolve(def_type_id)
    st = btf.type_by_id(st_id)
    if st.kind != K.STRUCT:
        raise _err(errno.EINVAL, f"map '{name}': unexpected def kind {st.kind_name}.")
    out = BtfMapDef(name, 0, st.size_type, MapDef())
    for m in st.members:
        mname = btf.string_at(m.name_off)
        if mname in _UINT_FIELDS:
            if mname == "map_extra" and btf.type_by_id(btf.resolve(m.type)).kind in (K.ENUM, K.ENUM64):
                val = _enum_value(btf, m.type)
            else:
                val = _uint_value(btf, name, mname, m.type)
            setattr(out.def_, mname, val)
            out.set_fields.add(mname)
        elif mname in ("key", "value"):
            t = btf.type_by_id(btf.resolve(m.type))
            if t.kind != K.PTR:
                raise _err(errno.EINVAL, f"map '{name}': {mname} spec is not PTR: {t.kind_name}.")
            sz = btf.size_of(t.type)
            explicit = getattr(out.def_, f"{mname}_size")
            if f"{mname}_size" in out.set_fields and explicit != sz:
                raise _err(errno.EINVAL, f"map '{name}': conflicting {mname} size {explicit} != {sz}.")
            setattr(out.def_, f"{mname}_size", sz)
            setattr(out, f"{mname}_type_id", t.type)
            out.set_fields.add(f"{mname}_size")
        elif mname == "values":
            arr = btf.type_by_id(btf.resolve(m.type))
            if arr.kind != K.ARRAY or arr.single.nelems:
                raise _err(errno.EINVAL, f"map '{name}': multi-dimensional or non-empty array values spec.")
            ptr = btf.type_by_id(btf.resolve(arr.single.type))
            if ptr.kind != K.PTR:
                raise _err(errno.EINVAL, f"map '{name}': invalid map value type (not PTR).")
            out.values_member_off = m.offset // 8
            inner_t = btf.type_by_id(btf.resolve(ptr.type))
            if inner_t.kind == K.STRUCT:
                if is_inner:
                    raise _err(errno.EINVAL, f"map '{name}': multi-level inner maps not supported.")
                out.inner = parse_map_def(btf, f"{name}.inner", ptr.type, strict, True)
            elif inner_t.kind != K.FUNC_PROTO:
                raise _err(errno.EINVAL, f"map '{name}': values spec is not a map or program: {inner_t.kind_name}.")
            out.def_.value_size = 4
        elif strict:
            raise _err(errno.ENOTSUP, f"map '{name}': unknown field '{mname}'.")
    if out.def_.type == 0:
        raise _err(errno.EINVAL, f"map '{name}': map type isn't specified.")
    return out


def parse_maps_section(btf: Btf, maps_sec_size: int) -> list[BtfMapDef]:
    """All map definitions of the `.maps` DATASEC, in variable order."""
    ds = btf.find(".maps", K.DATASEC)
    if ds is None:
        if maps_sec_size:
            raise _err(errno.EINVAL, "DATASEC '.maps' not found.")
        return []
    out = []
    for vsi in btf.type_by_id(ds).members:
        var = btf.type_by_id(vsi.type)
        name = btf.name_of(var)
        if var.kind != K.VAR:
            raise _err(errno.EINVAL, f"map '{name}': unexpected var kind {var.kind_name}.")
        if var.single.linkage not in (K.BTF_VAR_GLOBAL_ALLOCATED, K.BTF_VAR_STATIC):
            raise _err(errno.EOPNOTSUPP, f"map '{name}': unsupported map linkage {var.single.linkage}.")
        d = parse_map_def(btf, name, var.type)
        d.offset = vsi.offset
        d.size = vsi.size
        out.append(d)
    return out
