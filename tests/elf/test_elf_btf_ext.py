"""BTF.ext parse/encode over hand-built bytes (no toolchain needed)."""

from __future__ import annotations

import pytest

from elf_btf_bytes import BTF, BTF_EXT, CORE_RELO, FUNC_INFO, LINE_INFO, OFF, ext_blob, ext_subsection, u32
from harness.elf.btf import Btf
from harness.elf.btf_ext import CORE_RELO_KINDS, BtfExt
from harness.errors import FormatError


def test_parse_fields_and_names():
    ext = BtfExt.parse(BTF_EXT, btf=Btf.parse(BTF))
    assert ext.counts() == {"func_info": 1, "line_info": 2, "core_relo": 1}
    (fi,) = ext.func_info.by_section()[".text"]
    assert (fi.insn_off, fi.type_id) == (0, 13)
    li = ext.line_info.by_section()[".text"]
    assert [(r.insn_off, r.line_num, r.col) for r in li] == [(0, 12, 5), (8, 13, 1)]
    (cr,) = ext.core_relo.by_section()[".text"]
    assert (cr.kind_name, cr.kind_str, cr.access_str_off) == ("BPF_CORE_FIELD_BYTE_OFFSET", "byte_off", OFF["0:1"])


@pytest.mark.parametrize("data", [BTF_EXT, ext_blob(core=None), ext_blob(core=b""),
                                  ext_blob(func=b"", line=LINE_INFO, core=None)],
                         ids=["full", "no-core-header", "empty-core", "no-func-info"])
def test_encode_is_byte_exact(data):
    assert BtfExt.parse(data).encode() == data


def test_unknown_record_tail_is_kept():
    wide = ext_subsection(12, [(".text", [u32(0, 13, 0xAABBCCDD)])])
    data = ext_blob(func=wide)
    ext = BtfExt.parse(data)
    assert ext.func_info.sections[0].tails == [bytes.fromhex("ddccbbaa")]
    assert ext.encode() == data


def test_names_unresolved_without_btf():
    ext = BtfExt.parse(BTF_EXT)
    assert ext.func_info.sections[0].name is None
    assert list(ext.func_info.by_section()) == [str(OFF[".text"])]


def test_mutation_reencodes():
    ext = BtfExt.parse(BTF_EXT, btf=Btf.parse(BTF))
    ext.line_info.sections[0].records.pop()
    again = BtfExt.parse(ext.encode())
    assert again.counts()["line_info"] == 1 and again.core_relo.count() == 1


def test_core_relo_kind_table_is_complete():
    assert sorted(CORE_RELO_KINDS) == list(range(13))


MALFORMED = [
    ("short", BTF_EXT[:6], "too short"),
    ("magic", b"\x01\x02" + BTF_EXT[2:], "bad BTF.ext magic"),
    ("version", BTF_EXT[:2] + b"\x02" + BTF_EXT[3:], "version"),
    ("flags", BTF_EXT[:3] + b"\x01" + BTF_EXT[4:], "flags"),
    ("hdr_len past end", ext_blob(hdr_len=4096), "header not found"),
    ("no data", BTF_EXT[:32], "no data"),
    ("hdr_len small", ext_blob(hdr_len=16), "missing func_info"),
    ("func_info past end", ext_blob(func_info_len=1 << 20), "beyond the end"),
    ("line_info no record size", ext_blob(line_info_len=2), "record size not found"),
    ("bad record size", ext_blob(func=ext_subsection(4, [(".text", [u32(0)])])), "invalid record size 4"),
    ("unaligned record size", ext_blob(func=ext_subsection(10, [(".text", [u32(0, 13) + b"xx"])])),
     "invalid record size 10"),
    ("no records", ext_blob(func=u32(8)), "no records"),
    ("zero num_info", ext_blob(func=u32(8, OFF[".text"], 0)), "incorrect num_records 0"),
    ("num_info too big", ext_blob(func=u32(8, OFF[".text"], 1000) + u32(0, 13)), "incorrect num_records 1000"),
    ("partial sec header", ext_blob(func=FUNC_INFO + u32(1)), "section header is not found"),
]


@pytest.mark.parametrize("label,data,message", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_btf_ext(label, data, message):
    with pytest.raises(FormatError, match=message) as exc:
        BtfExt.parse(data, where="x.o: section .BTF.ext")
    assert str(exc.value).startswith("x.o: section .BTF.ext: ")


@pytest.mark.parametrize("data,message", [
    (ext_blob(func=ext_subsection(8, [(".text", [u32(0, 13)])])[:4] + u32(9999, 1) + u32(0, 13)),
     "sec_name_off 9999"),
    (ext_blob(core=u32(16) + u32(OFF[".text"], 1) + u32(0, 1, 5000, 0)), "access_str_off 5000"),
    (ext_blob(line=u32(16) + u32(OFF[".text"], 1) + u32(0, 7000, 0, 0)), "file_name_off 7000"),
])
def test_string_offsets_checked_against_btf(data, message):
    with pytest.raises(FormatError, match=message):
        BtfExt.parse(data, btf=Btf.parse(BTF))


def test_every_truncation_and_flip_is_handled():
    for n in range(len(BTF_EXT)):
        with pytest.raises(FormatError):
            BtfExt.parse(BTF_EXT[:n], btf=Btf.parse(BTF))
    outcomes = set()
    for pos in range(len(BTF_EXT)):
        data = bytearray(BTF_EXT)
        data[pos] ^= 0xFF
        try:
            BtfExt.parse(bytes(data), btf=Btf.parse(BTF)).encode()
            outcomes.add("ok")
        except FormatError:
            outcomes.add("error")
    assert outcomes == {"ok", "error"}
