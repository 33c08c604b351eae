"""Raw text dump of BTF in the format of `bpftool btf dump file X` (format raw).

One line per type, `[id] KIND 'name'` followed by kind-specific fields; members,
parameters, enumerators and section variables follow on their own lines, indented with a
tab.  Matching bpftool byte for byte lets a user diff our dump against the real tool.
"""

from __future__ import annotations

from harness.elf import btf_kinds as K


def _name(btf, off: int) -> str:
    return btf.string_at(off) if off else "(anon)"


def _int(btf, t):
    enc = K.INT_ENCODING_NAMES.get(t.encoding, "UNKN")
    return f" size={t.size} bits_offset={t.bits_offset} nr_bits={t.nr_bits} encoding={enc}"


def _ref(btf, t):
    return f" type_id={t.type}"


def _array(btf, t):
    a = t.single
    return f" type_id={a.type} index_type_id={a.index_type} nr_elems={a.nelems}"


def _composite(btf, t):
    out = [f" size={t.size} vlen={t.vlen}"]
    for m in t.members:
        out.append(f"\n\t'{_name(btf, m.name_off)}' type_id={m.type} bits_offset={m.bit_offset(t.kind_flag)}")
        if m.bitfield_size(t.kind_flag):
            out.append(f" bitfield_size={m.bitfield_size(t.kind_flag)}")
    return "".join(out)


def _enum(btf, t):
    signed = t.kind_flag
    suffix = ("LL" if signed else "ULL") if t.kind == K.ENUM64 else ""
    out = [f" encoding={'SIGNED' if signed else 'UNSIGNED'} size={t.size} vlen={t.vlen}"]
    out += [f"\n\t'{_name(btf, e.name_off)}' val={e.value(signed)}{suffix}" for e in t.members]
    return "".join(out)


def _fwd(btf, t):
    return f" fwd_kind={'union' if t.kind_flag else 'struct'}"


def _func(btf, t):
    return f" type_id={t.type} linkage={K.FUNC_LINKAGE_NAMES.get(t.linkage, '(unknown)')}"


def _func_proto(btf, t):
    out = [f" ret_type_id={t.type} vlen={t.vlen}"]
    out += [f"\n\t'{_name(btf, p.name_off)}' type_id={p.type}" for p in t.members]
    return "".join(out)


def _var(btf, t):
    return f" type_id={t.type}, linkage={K.VAR_LINKAGE_NAMES.get(t.linkage, '(unknown)')}"


def _datasec(btf, t):
    out = [f" size={t.size} vlen={t.vlen}"]
    for v in t.members:
        out.append(f"\n\ttype_id={v.type} offset={v.offset} size={v.size}")
        if v.type < btf.nr_types:
            vt = btf.types[v.type]
            out.append(f" ({vt.kind_name} '{_name(btf, vt.name_off)}')")
    return "".join(out)


def _float(btf, t):
    return f" size={t.size}"


def _decl_tag(btf, t):
    return f" type_id={t.type} component_idx={t.component_idx}"


_FORMATTERS = {
    K.INT: _int, K.PTR: _ref, K.ARRAY: _array, K.STRUCT: _composite, K.UNION: _composite,
    K.ENUM: _enum, K.FWD: _fwd, K.TYPEDEF: _ref, K.VOLATILE: _ref, K.CONST: _ref, K.RESTRICT: _ref,
    K.FUNC: _func, K.FUNC_PROTO: _func_proto, K.VAR: _var, K.DATASEC: _datasec, K.FLOAT: _float,
    K.DECL_TAG: _decl_tag, K.TYPE_TAG: _ref, K.ENUM64: _enum,
}


def dump_type(btf, type_id: int) -> str:
    t = btf.types[type_id]
    head = f"[{type_id}] {t.kind_name} '{_name(btf, t.name_off)}'"
    fmt = _FORMATTERS.get(t.kind)
    return head + (fmt(btf, t) if fmt else "")


def dump_text(btf) -> str:
    """All types, one entry per type, each ending in a newline (as bpftool prints them)."""
    return "".join(dump_type(btf, tid) + "\n" for tid in range(1, btf.nr_types))
