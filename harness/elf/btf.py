"""BTF: parse, query, mutate and re-encode a BPF Type Format blob.

The model keeps exactly what is on disk (string section verbatim, every record field
as stored) so that `Btf.parse(data).encode() == data` for any well-formed, canonically
laid out input; this is what lets the loader hand the kernel "the object's BTF" and later
a fixed-up copy without re-deriving anything.  Record layouts and the table of kinds live
in btf_kinds.py; the bpftool-style text dump in btf_dump.py; libbpf's kernel-feature
sanitisation in btf_sanitize.py.

Type ids are list indices: `btf.types[0]` is void, `btf.types[1]` the first record.
Malformed input raises FormatError with a one-line message naming `where`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from harness.elf import btf_kinds as K
from harness.elf.btf_kinds import KINDS, BtfHeader, BtfHeaderLayout, BtfType
from harness.errors import FormatError

_TYPE = BtfType.STRUCT
_HDR_MIN = BtfHeader.SIZE


@dataclass(slots=True)
class Type:
    """One BTF type record.  `size_type` is the `size`/`type` union of struct btf_type."""
    kind: int
    name_off: int = 0
    size_type: int = 0
    kind_flag: bool = False
    vlen_raw: int = 0            # vlen of kinds without member records (FUNC: linkage)
    single: tuple | None = None  # the one trailing record (btf_int, btf_array, btf_var, btf_decl_tag)
    members: list = field(default_factory=list)

    @property
    def vlen(self) -> int:
        return len(self.members) if self.kind in KINDS and KINDS[self.kind].member else self.vlen_raw

    @property
    def info(self) -> int:
        return (int(self.kind_flag) << 31) | (self.kind << 24) | self.vlen

    @property
    def kind_name(self) -> str:
        return K.kind_name(self.kind)

    # The two names of the size/type union, for readability at call sites.
    size = property(lambda self: self.size_type)
    type = property(lambda self: self.size_type)

    # INT
    encoding = property(lambda self: (self.single.int_data >> 24) & 0x0F)
    bits_offset = property(lambda self: (self.single.int_data >> 16) & 0xFF)
    nr_bits = property(lambda self: self.single.int_data & 0xFF)

    @property
    def linkage(self) -> int:
        """FUNC linkage lives in vlen; VAR linkage in its btf_var record."""
        return self.single.linkage if self.kind == K.VAR else self.vlen_raw

    @property
    def component_idx(self) -> int:
        return self.single.component_idx

    def encode(self) -> bytes:
        out = _TYPE.pack(self.name_off, self.info, self.size_type)
        if self.single is not None:
            out += self.single.pack()
        if self.members:
            out += b"".join(m.pack() for m in self.members)
        return out


def _check(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise FormatError(message, path=where)


class Btf:
    """A parsed BTF blob: `types` (index = type id), `strings` (raw string section)."""

    def __init__(self, types: list[Type] | None = None, strings: bytes = b"\0", *,
                 header: BtfHeader | None = None, header_tail: bytes = b"", layout: bytes | None = None):
        self.types: list[Type] = types if types is not None else [Type(kind=0)]
        self.strings: bytes = bytes(strings)
        self.header = header or BtfHeader(K.BTF_MAGIC, K.BTF_VERSION, 0, _HDR_MIN, 0, 0, 0, 0)
        self.header_tail = header_tail      # header bytes beyond the classic 24 (kept verbatim)
        self.layout = layout                # optional layout section (newer kernels), verbatim
        self._str_index: dict[str, int] | None = None
        self._name_index: dict[str, list[int]] | None = None

    # ---------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, data: bytes, *, where: str = "BTF") -> "Btf":
        buf = memoryview(bytes(data))
        _check(len(buf) >= _HDR_MIN, where, f"BTF header truncated ({len(buf)} bytes, need {_HDR_MIN})")
        hdr = BtfHeader.unpack_from(buf)
        if hdr.magic == 0x9FEB:
            raise FormatError("big-endian BTF is not supported", path=where)
        _check(hdr.magic == K.BTF_MAGIC, where, f"bad BTF magic 0x{hdr.magic:04x} (expected 0xeb9f)")
        _check(hdr.version == K.BTF_VERSION, where, f"unsupported BTF version {hdr.version}")
        _check(hdr.flags == 0, where, f"unsupported BTF flags 0x{hdr.flags:x}")
        _check(_HDR_MIN <= hdr.hdr_len <= len(buf), where,
               f"bad BTF hdr_len {hdr.hdr_len} (blob is {len(buf)} bytes)")
        tail = bytes(buf[_HDR_MIN:hdr.hdr_len])
        body = buf[hdr.hdr_len:]

        def section(name: str, off: int, length: int) -> memoryview:
            _check(off + length <= len(body), where,
                   f"BTF {name} section (off {off} len {length}) extends past the end ({len(body)} bytes)")
            return body[off:off + length]

        _check(hdr.type_off % 4 == 0, where, f"unaligned BTF type_off {hdr.type_off}")
        _check(hdr.type_len % 4 == 0, where, f"BTF type_len {hdr.type_len} is not a multiple of 4")
        type_buf = section("type", hdr.type_off, hdr.type_len)
        strings = bytes(section("string", hdr.str_off, hdr.str_len))
        _check(hdr.str_len > 0 and strings[0] == 0 and strings[-1] == 0, where,
               "BTF string section must start and end with a NUL byte")
        _check(hdr.str_len - 1 <= K.BTF_MAX_NAME_OFFSET, where, f"BTF string section too large ({hdr.str_len})")
        layout = None
        if hdr.hdr_len >= _HDR_MIN + BtfHeaderLayout.SIZE:
            lh = BtfHeaderLayout.unpack_from(tail)
            if lh.layout_off or lh.layout_len:
                layout = bytes(section("layout", lh.layout_off, lh.layout_len))
        btf = cls(_parse_types(type_buf, where), strings, header=hdr, header_tail=tail, layout=layout)
        btf.validate(where=where)
        return btf

    def validate(self, *, where: str = "BTF") -> None:
        """Check every name offset and type id reference is in range."""
        n, nstr = len(self.types), len(self.strings)
        _check(n - 1 <= K.BTF_MAX_TYPE, where, f"too many BTF types ({n - 1})")
        for tid in range(1, n):
            t = self.types[tid]
            k = KINDS[t.kind]

            def bad(what: str) -> FormatError:
                return FormatError(f"BTF type [{tid}] {k.name}: {what}", path=where)

            if t.name_off >= nstr:
                raise bad(f"name_off {t.name_off} outside the string section ({nstr} bytes)")
            if t.kind in K.REF_KINDS and t.size_type >= n:
                raise bad(f"type_id {t.size_type} out of range (have {n} types)")
            for fname in k.single_refs:
                if getattr(t.single, fname) >= n:
                    raise bad(f"{fname} {getattr(t.single, fname)} out of range (have {n} types)")
            for i, m in enumerate(t.members):
                for fname in k.member_refs:
                    if getattr(m, fname) >= n:
                        raise bad(f"member {i} type_id {getattr(m, fname)} out of range (have {n} types)")
                if getattr(m, "name_off", 0) >= nstr:
                    raise bad(f"member {i} name_off {m.name_off} outside the string section ({nstr} bytes)")

    # --------------------------------------------------------------- encoding
    def encode(self) -> bytes:
        """The BTF blob: header, then the sections in their original order, 4-byte aligned."""
        type_bytes = b"".join(t.encode() for t in self.types[1:])
        h, tail = self.header, self.header_tail
        sections = [(h.type_off, 0, "type", type_bytes), (h.str_off, 1, "str", self.strings)]
        if self.layout is not None:
            sections.append((BtfHeaderLayout.unpack_from(tail).layout_off, 2, "layout", self.layout))
        offsets, body = {}, b""
        for _, _, name, blob in sorted(sections):
            if name != "str":
                body += b"\0" * (-len(body) % 4)
            offsets[name] = len(body)
            body += blob
        header = BtfHeader(h.magic, h.version, h.flags, _HDR_MIN + len(tail), offsets["type"], len(type_bytes),
                           offsets["str"], len(self.strings)).pack()
        if self.layout is not None:
            tail = BtfHeaderLayout(offsets["layout"], len(self.layout)).pack() + tail[BtfHeaderLayout.SIZE:]
        return header + tail + body

    # ---------------------------------------------------------------- queries
    @property
    def nr_types(self) -> int:
        """Like btf__type_cnt(): number of type ids including void."""
        return len(self.types)

    def string_at(self, offset: int) -> str:
        end = self.strings.find(b"\0", offset)
        return self.strings[offset:end if end >= 0 else None].decode("utf-8", "replace")

    def name_of(self, t: "Type | int") -> str:
        t = self.types[t] if isinstance(t, int) else t
        return self.string_at(t.name_off)

    def type_by_id(self, type_id: int) -> Type:
        if not 0 <= type_id < len(self.types):
            raise FormatError(f"BTF type id {type_id} out of range (have {len(self.types)} types)")
        return self.types[type_id]

    def find_all(self, name: str, kind: int | str | None = None) -> list[int]:
        if self._name_index is None:
            index: dict[str, list[int]] = {}
            for tid in range(1, len(self.types)):
                if self.types[tid].name_off:
                    index.setdefault(self.name_of(tid), []).append(tid)
            self._name_index = index
        kind = K.KIND_BY_NAME[kind] if isinstance(kind, str) else kind
        return [tid for tid in self._name_index.get(name, ()) if kind is None or self.types[tid].kind == kind]

    def find(self, name: str, kind: int | str | None = None) -> int | None:
        """Id of the first type called `name` (of `kind`, a number or "STRUCT"-style name)."""
        ids = self.find_all(name, kind)
        return ids[0] if ids else None

    def resolve(self, type_id: int) -> int:
        """Skip typedefs and modifiers (const, volatile, restrict, type tags)."""
        for _ in range(len(self.types) + 1):
            t = self.type_by_id(type_id)
            if t.kind not in K.MODIFIERS:
                return type_id
            type_id = t.size_type
        raise FormatError(f"BTF type loop through modifiers at type id {type_id}")

    def size_of(self, type_id: int) -> int:
        """Byte size of a type, like libbpf's btf__resolve_size()."""
        nelems = 1
        for _ in range(len(self.types) + 1):
            t = self.type_by_id(type_id)
            if t.kind == K.PTR:
                return nelems * 8
            if t.kind in KINDS and KINDS[t.kind].uses_size:
                return nelems * t.size_type
            if t.kind == K.ARRAY:
                nelems *= t.single.nelems
                type_id = t.single.type
            elif t.kind in K.MODIFIERS or t.kind in (K.VAR, K.DECL_TAG):
                type_id = t.size_type
            else:
                raise FormatError(f"BTF type [{type_id}] {t.kind_name} has no size")
            if nelems > 0xFFFFFFFF:
                raise FormatError(f"BTF type size overflows 32 bits at type id {type_id}")
        raise FormatError(f"BTF type loop at type id {type_id}")

    def datasec_vars(self, datasec: int | str) -> list[tuple[int, str, int, int]]:
        """(var type id, var name, offset, size) for each variable of a DATASEC."""
        tid = datasec if isinstance(datasec, int) else self.find(datasec, K.DATASEC)
        if tid is None:
            return []
        return [(v.type, self.name_of(v.type), v.offset, v.size) for v in self.type_by_id(tid).members]

    def decl_tags(self, target: int | str, component_idx: int = -1) -> list[str]:
        """Names of the DECL_TAGs on a type (a FUNC by name, or a type id), in type-id order.

        component_idx -1 selects tags on the type itself; 0.. selects a member/parameter.
        Selftest-style annotations are these tags on a program's FUNC ("comment:...")."""
        tid = target if isinstance(target, int) else self.find(target, K.FUNC)
        if tid is None:
            return []
        return [self.name_of(t) for t in self.types
                if t.kind == K.DECL_TAG and t.size_type == tid and t.single.component_idx == component_idx]

    def kind_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.types[1:]:
            counts[t.kind_name] = counts.get(t.kind_name, 0) + 1
        return counts

    def dump_text(self) -> str:
        from harness.elf.btf_dump import dump_text
        return dump_text(self)

    # --------------------------------------------------------------- mutation
    def copy(self) -> "Btf":
        return copy.deepcopy(self)

    def invalidate_caches(self) -> None:
        """Call after changing a type's name_off in place (add/replace_type do it themselves)."""
        self._name_index = None

    _invalidate = invalidate_caches

    def add_string(self, s: str) -> int:
        """Offset of `s` in the string section, appending it if absent (like btf__add_str)."""
        if self._str_index is None:
            self._str_index = {}
            pos = 0
            for raw in self.strings.split(b"\0")[:-1]:
                self._str_index.setdefault(raw.decode("utf-8", "replace"), pos)
                pos += len(raw) + 1
        if s not in self._str_index:
            self._str_index[s] = len(self.strings)
            self.strings += s.encode() + b"\0"
        return self._str_index[s]

    def set_string(self, offset: int, s: str) -> None:
        """Overwrite the string at `offset` in place with one of the same length (libbpf renames this way)."""
        old_end = self.strings.index(b"\0", offset)
        raw = s.encode()
        if len(raw) != old_end - offset:
            raise ValueError("set_string needs a string of the same length")
        self.strings = self.strings[:offset] + raw + self.strings[old_end:]
        self._str_index = None
        self._invalidate()

    def add_type(self, t: Type) -> int:
        self.types.append(t)
        self._invalidate()
        return len(self.types) - 1

    def replace_type(self, type_id: int, t: Type) -> None:
        self.type_by_id(type_id)
        self.types[type_id] = t
        self._invalidate()

    def add_int(self, name: str, size: int, encoding: int = 0) -> int:
        """Like btf__add_int(): an INT of `size` bytes, nr_bits = 8 * size."""
        return self.add_type(Type(K.INT, self.add_string(name), size, single=K.BtfInt((encoding << 24) | (size * 8))))

    def set_datasec(self, datasec: int | str, *, size: int | None = None,
                    offsets: dict[str, int] | None = None, sizes: dict[str, int] | None = None) -> int:
        """Set a DATASEC's size and, by variable name, its vars' offsets/sizes; returns its id."""
        tid = datasec if isinstance(datasec, int) else self.find(datasec, K.DATASEC)
        if tid is None:
            raise KeyError(f"no DATASEC {datasec!r}")
        t = self.type_by_id(tid)
        if size is not None:
            t.size_type = size
        for i, v in enumerate(t.members):
            name = self.name_of(v.type)
            if offsets and name in offsets:
                v = v._replace(offset=offsets[name])
            if sizes and name in sizes:
                v = v._replace(size=sizes[name])
            t.members[i] = v
        return tid

    def sanitize(self, **features: bool) -> "Btf":
        from harness.elf.btf_sanitize import sanitize
        return sanitize(self, **features)


def _parse_types(buf: memoryview, where: str) -> list[Type]:
    types = [Type(kind=0)]
    pos, end = 0, len(buf)
    while pos < end:
        tid = len(types)
        _check(end - pos >= _TYPE.size, where, f"BTF type [{tid}] truncated at type offset {pos}")
        name_off, info, size_type = _TYPE.unpack_from(buf, pos)
        pos += _TYPE.size
        kind, vlen, kflag = (info >> 24) & 0x7F, info & 0xFFFFFF, bool(info >> 31)
        k = KINDS.get(kind)
        _check(k is not None, where, f"BTF type [{tid}] has unknown kind {kind}")
        single, members = None, []
        if k.single is not None:
            _check(end - pos >= k.single.SIZE, where, f"BTF type [{tid}] {k.name} truncated at type offset {pos}")
            single = k.single.unpack_from(buf, pos)
            pos += k.single.SIZE
        if k.member is not None:
            need = vlen * k.member.SIZE
            _check(end - pos >= need, where,
                   f"BTF type [{tid}] {k.name} vlen {vlen} overflows the type section "
                   f"({need} bytes needed, {end - pos} left)")
            members = list(k.member.iter_unpack(buf[pos:pos + need]))
            pos += need
            vlen = 0
        types.append(Type(kind, name_off, size_type, kflag, vlen, single, members))
    return types
