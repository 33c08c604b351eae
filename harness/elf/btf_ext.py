"""BTF.ext: per-program func_info, line_info and CO-RE relocation records.

Layout (libbpf's libbpf_internal.h, `struct btf_ext_header`): a header whose offsets are
relative to its end, then up to three subsections.  Each subsection is a u32 record size
followed by, per ELF section, `struct btf_ext_info_sec` (sec_name_off, num_info) and
num_info records of that size.  The record size may exceed the layouts we know (newer
compilers may append fields); the extra bytes are kept so encoding stays byte-exact.

`insn_off` fields here are BYTE offsets from the start of the ELF section (libbpf divides
by 8 when it splits records per program); names (`sec_name_off`, `file_name_off`,
`line_off`, `access_str_off`) are offsets into the .BTF string section.

Validation follows libbpf's btf_ext__new(): magic/version/flags, header and subsection
bounds, record size >= the minimum and a multiple of 4, non-empty subsections, num_info
> 0 and the records fitting.  Malformed input raises FormatError naming `where`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.elf.btf_kinds import BTF_MAGIC
from harness.elf.layout import record
from harness.errors import FormatError

BtfExtHeader = record("btf_ext_header",
                      "magic:H version:B flags:B hdr_len:I func_info_off:I func_info_len:I "
                      "line_info_off:I line_info_len:I")
BtfExtHeaderCore = record("btf_ext_header_core", "core_relo_off:I core_relo_len:I")  # optional tail
BtfExtInfoSec = record("btf_ext_info_sec", "sec_name_off:I num_info:I")
RecSize = record("rec_size", "rec_size:I")
BpfFuncInfo = record("bpf_func_info", "insn_off:I type_id:I")

# enum bpf_core_relo_kind (uapi bpf.h) and libbpf's short names (core_relo_kind_str()).
CORE_RELO_KINDS = {
    0: ("BPF_CORE_FIELD_BYTE_OFFSET", "byte_off"),
    1: ("BPF_CORE_FIELD_BYTE_SIZE", "byte_sz"),
    2: ("BPF_CORE_FIELD_EXISTS", "field_exists"),
    3: ("BPF_CORE_FIELD_SIGNED", "signed"),
    4: ("BPF_CORE_FIELD_LSHIFT_U64", "lshift_u64"),
    5: ("BPF_CORE_FIELD_RSHIFT_U64", "rshift_u64"),
    6: ("BPF_CORE_TYPE_ID_LOCAL", "local_type_id"),
    7: ("BPF_CORE_TYPE_ID_TARGET", "target_type_id"),
    8: ("BPF_CORE_TYPE_EXISTS", "type_exists"),
    9: ("BPF_CORE_TYPE_SIZE", "type_size"),
    10: ("BPF_CORE_ENUMVAL_EXISTS", "enumval_exists"),
    11: ("BPF_CORE_ENUMVAL_VALUE", "enumval_value"),
    12: ("BPF_CORE_TYPE_MATCHES", "type_matches"),
}


class BpfLineInfo(record("bpf_line_info", "insn_off:I file_name_off:I line_off:I line_col:I")):
    """line_col packs line number << 10 | column (BPF_LINE_INFO_LINE_NUM / _LINE_COL)."""
    __slots__ = ()
    line_num = property(lambda self: self.line_col >> 10)
    col = property(lambda self: self.line_col & 0x3FF)


class BpfCoreRelo(record("bpf_core_relo", "insn_off:I type_id:I access_str_off:I kind:I")):
    __slots__ = ()
    kind_name = property(lambda self: CORE_RELO_KINDS.get(self.kind, ("unknown", "unknown"))[0])
    kind_str = property(lambda self: CORE_RELO_KINDS.get(self.kind, ("unknown", "unknown"))[1])


@dataclass
class ExtSection:
    """One btf_ext_info_sec: the records of one ELF section."""
    sec_name_off: int
    records: list
    name: str | None = None                          # resolved through the .BTF strings
    tails: list[bytes] = field(default_factory=list)  # per-record bytes beyond the known layout


@dataclass
class ExtInfo:
    """One subsection (func_info, line_info or core_relo)."""
    desc: str
    layout: type
    rec_size: int = 0
    sections: list[ExtSection] = field(default_factory=list)
    off: int = 0                                      # original offset, kept for empty subsections

    def by_section(self) -> dict[str, list]:
        return {s.name if s.name is not None else str(s.sec_name_off): s.records for s in self.sections}

    def count(self) -> int:
        return sum(len(s.records) for s in self.sections)

    def encode(self) -> bytes:
        if not self.sections:
            return b""
        out = [RecSize(self.rec_size).pack()]
        for s in self.sections:
            out.append(BtfExtInfoSec(s.sec_name_off, len(s.records)).pack())
            tails = s.tails or [b""] * len(s.records)
            out += [r.pack() + tail for r, tail in zip(s.records, tails)]
        return b"".join(out)


_SUBSECTIONS = (("func_info", BpfFuncInfo), ("line_info", BpfLineInfo), ("core_relo", BpfCoreRelo))


class BtfExt:
    def __init__(self, header: BtfExtHeader | None = None, header_tail: bytes = b"",
                 infos: dict[str, ExtInfo] | None = None):
        self.header = header or BtfExtHeader(BTF_MAGIC, 1, 0, BtfExtHeader.SIZE + BtfExtHeaderCore.SIZE,
                                             0, 0, 0, 0)
        self.header_tail = header_tail if header is not None else bytes(BtfExtHeaderCore.SIZE)
        self.infos = infos or {desc: ExtInfo(desc, layout) for desc, layout in _SUBSECTIONS}

    func_info = property(lambda self: self.infos["func_info"])
    line_info = property(lambda self: self.infos["line_info"])
    core_relo = property(lambda self: self.infos["core_relo"])

    @property
    def has_core_relo_header(self) -> bool:
        return len(self.header_tail) >= BtfExtHeaderCore.SIZE

    def counts(self) -> dict[str, int]:
        return {desc: info.count() for desc, info in self.infos.items()}

    def program_records(self, desc: str, section: str, offset: int, size: int) -> list:
        """Records of one program (bytes [offset, offset+size) of ELF section `section`).

        insn_off is rewritten from a byte offset in the section to the instruction index
        from the program's start, which is what BPF_PROG_LOAD takes (libbpf does the same
        when it splits a section's records among its programs).
        """
        out = []
        for sec in self.infos[desc].sections:
            if sec.name != section:
                continue
            out += [r._replace(insn_off=(r.insn_off - offset) // 8) for r in sec.records
                    if offset <= r.insn_off < offset + size]
        return out

    @classmethod
    def parse(cls, data: bytes, *, btf=None, where: str = "BTF.ext") -> "BtfExt":
        buf = memoryview(bytes(data))

        def fail(msg: str) -> FormatError:
            return FormatError(msg, path=where)

        if len(buf) < 8:
            raise fail(f"BTF.ext header too short ({len(buf)} bytes)")
        magic = int.from_bytes(buf[:2], "little")
        if magic == 0x9FEB:
            raise fail("big-endian BTF.ext is not supported")
        if magic != BTF_MAGIC:
            raise fail(f"bad BTF.ext magic 0x{magic:04x} (expected 0xeb9f)")
        if buf[2] != 1:
            raise fail(f"unsupported BTF.ext version {buf[2]}")
        if buf[3]:
            raise fail(f"unsupported BTF.ext flags 0x{buf[3]:x}")
        hdr_len = int.from_bytes(buf[4:8], "little")
        if len(buf) < hdr_len:
            raise fail(f"BTF.ext header not found (hdr_len {hdr_len}, section is {len(buf)} bytes)")
        if len(buf) == hdr_len:
            raise fail("BTF.ext has no data")
        if hdr_len < BtfExtHeader.SIZE:
            raise fail(f"BTF.ext header missing func_info, line_info (hdr_len {hdr_len})")
        hdr = BtfExtHeader.unpack_from(buf)
        tail = bytes(buf[BtfExtHeader.SIZE:hdr_len])
        body = buf[hdr_len:]
        spans = {"func_info": (hdr.func_info_off, hdr.func_info_len),
                 "line_info": (hdr.line_info_off, hdr.line_info_len),
                 "core_relo": BtfExtHeaderCore.unpack_from(tail) if len(tail) >= BtfExtHeaderCore.SIZE else (0, 0)}
        infos = {}
        for desc, layout in _SUBSECTIONS:
            off, length = spans[desc]
            infos[desc] = _parse_info(desc, layout, body, off, length, btf, fail)
        return cls(hdr, tail, infos)

    def encode(self) -> bytes:
        """Header, then the subsections in their original order, contiguous."""
        blobs = {desc: info.encode() for desc, info in self.infos.items()}
        if not self.has_core_relo_header and blobs["core_relo"]:
            raise ValueError("BTF.ext header has no core_relo fields but core_relo records were added")
        offsets, body = {}, b""
        for desc in sorted(blobs, key=lambda d: (self.infos[d].off, [s for s, _ in _SUBSECTIONS].index(d))):
            offsets[desc] = len(body) if blobs[desc] else self.infos[desc].off
            body += blobs[desc]
        h = self.header
        tail = self.header_tail
        if self.has_core_relo_header:
            tail = BtfExtHeaderCore(offsets["core_relo"], len(blobs["core_relo"])).pack() + tail[BtfExtHeaderCore.SIZE:]
        header = BtfExtHeader(h.magic, h.version, h.flags, BtfExtHeader.SIZE + len(tail),
                              offsets["func_info"], len(blobs["func_info"]),
                              offsets["line_info"], len(blobs["line_info"])).pack()
        return header + tail + body


def _parse_info(desc, layout, body, off, length, btf, fail) -> ExtInfo:
    info = ExtInfo(desc, layout, off=off)
    if length == 0:
        return info
    if off + length > len(body):
        raise fail(f"{desc} section (off:{off} len:{length}) is beyond the end of the ELF section .BTF.ext")
    if length < 4:
        raise fail(f"{desc} record size not found")
    rec_size = RecSize.unpack_from(body, off).rec_size
    if rec_size < layout.SIZE or rec_size & 3:
        raise fail(f"{desc} section in .BTF.ext has invalid record size {rec_size}")
    info.rec_size = rec_size
    pos, end = off + 4, off + length
    if pos == end:
        raise fail(f"{desc} section in .BTF.ext has no records")
    strings = btf.strings if btf is not None else None
    while pos < end:
        if end - pos < BtfExtInfoSec.SIZE:
            raise fail(f"{desc} section header is not found in .BTF.ext")
        sec = BtfExtInfoSec.unpack_from(body, pos)
        pos += BtfExtInfoSec.SIZE
        if sec.num_info == 0 or sec.num_info * rec_size > end - pos:
            raise fail(f"{desc} section has incorrect num_records {sec.num_info} in .BTF.ext")
        records, tails = [], []
        for i in range(sec.num_info):
            start = pos + i * rec_size
            records.append(layout.unpack_from(body, start))
            if rec_size > layout.SIZE:
                tails.append(bytes(body[start + layout.SIZE:start + rec_size]))
        pos += sec.num_info * rec_size
        name = None
        if strings is not None:
            for fname in ("sec_name_off",):
                _check_str(strings, sec.sec_name_off, f"{desc} {fname}", fail)
            for r in records:
                for fname in ("file_name_off", "line_off", "access_str_off"):
                    if hasattr(r, fname):
                        _check_str(strings, getattr(r, fname), f"{desc} {fname}", fail)
            name = btf.string_at(sec.sec_name_off)
        info.sections.append(ExtSection(sec.sec_name_off, records, name, tails))
    return info


def _check_str(strings: bytes, off: int, what: str, fail) -> None:
    if off >= len(strings):
        raise fail(f"{what} {off} is outside the .BTF string section ({len(strings)} bytes)")
