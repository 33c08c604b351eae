"""BTF parser, encoder, dumper, queries and mutations over hand-built bytes (no toolchain needed)."""

from __future__ import annotations

import struct

import pytest

from elf_btf_bytes import BTF, EXPECTED_DUMP, OFF, STRINGS, TYPES, btf_blob, t, u32
from harness.elf import btf_kinds as K
from harness.elf.btf import Btf, Type
from harness.errors import FormatError


def test_parse_encode_identity():
    assert Btf.parse(BTF).encode() == BTF


def test_dump_matches_bpftool_format():
    assert Btf.parse(BTF).dump_text() == EXPECTED_DUMP


@pytest.mark.parametrize("kind", sorted(K.KINDS))
def test_every_kind_is_covered(kind):
    assert any(t.kind == kind for t in Btf.parse(BTF).types)


def test_fields_and_queries():
    btf = Btf.parse(BTF)
    assert btf.nr_types == 24 and btf.strings == STRINGS
    assert btf.find("int") == 1 and btf.find("s", "STRUCT") == 4 and btf.find("s", K.UNION) is None
    assert btf.find("missing") is None
    s = btf.types[4]
    assert s.kind_flag and [(m.bit_offset(True), m.bitfield_size(True)) for m in s.members] == [(0, 3), (32, 0)]
    assert [e.value(True) for e in btf.types[6].members] == [-1, 7]
    assert btf.types[20].members[0].value(btf.types[20].kind_flag) == 0xFFFFFFFF
    assert btf.types[19].members[0].value(False) == 2**64 - 1
    assert btf.types[21].members[0].value(True) == -2
    assert btf.types[13].linkage == K.BTF_FUNC_GLOBAL and btf.types[14].linkage == K.BTF_VAR_STATIC
    assert btf.types[17].component_idx == -1
    assert (btf.types[22].encoding, btf.types[23].encoding) == (K.BTF_INT_BOOL, K.BTF_INT_CHAR)
    assert btf.datasec_vars(".data") == [(14, "v", 0, 4)]
    assert btf.kind_counts()["ENUM"] == 2


@pytest.mark.parametrize("type_id,resolved,size", [
    (1, 1, 4), (2, 2, 8), (3, 3, 16), (4, 4, 8), (8, 1, 4), (10, 1, 4), (11, 2, 8), (14, 14, 4),
    (15, 15, 4), (16, 16, 4), (18, 1, 4), (19, 19, 8), (17, 17, None), (7, 7, None), (12, 12, None),
])
def test_resolve_and_size_of(type_id, resolved, size):
    btf = Btf.parse(BTF)
    assert btf.resolve(type_id) == resolved
    if size is None:
        with pytest.raises(FormatError, match="has no size"):
            btf.size_of(type_id)
    else:
        assert btf.size_of(type_id) == size


def test_add_string_dedups_and_appends():
    btf = Btf.parse(BTF)
    assert btf.add_string("int") == OFF["int"]
    off = btf.add_string("new_name")
    assert off == len(STRINGS) and btf.add_string("new_name") == off
    assert btf.string_at(off) == "new_name"
    # Original bytes are a prefix of the new encoding's string section.
    assert Btf.parse(btf.encode()).strings.startswith(STRINGS)


def test_add_replace_and_set_datasec():
    btf = Btf.parse(BTF)
    new_id = btf.add_int("u64x", 8)
    assert new_id == 24 and btf.types[new_id].nr_bits == 64 and btf.find("u64x", "INT") == 24
    btf.replace_type(2, Type(K.PTR, 0, new_id))
    btf.set_datasec(".data", size=64, offsets={"v": 16}, sizes={"v": 8})
    again = Btf.parse(btf.encode())
    assert again.types[2].type == 24 and again.size_of(again.resolve(2)) == 8
    assert again.types[15].size == 64 and again.datasec_vars(15) == [(14, "v", 16, 8)]
    assert Btf.parse(BTF).encode() == BTF        # the original blob is unaffected
    with pytest.raises(KeyError):
        btf.set_datasec(".nope", size=1)


def test_copy_is_deep():
    btf = Btf.parse(BTF)
    dup = btf.copy()
    dup.set_datasec(15, size=99)
    assert btf.types[15].size == 4


# Each row: features missing -> (type id, expected dump of that type after sanitising).
SANITIZE_ROWS = [
    ({"datasec": False}, 14, "[14] INT 'v' size=1 bits_offset=0 nr_bits=8 encoding=(none)"),
    ({"datasec": False}, 15, "[15] STRUCT '_data' size=4 vlen=1\n\t'v' type_id=14 bits_offset=0"),
    ({"decl_tag": False}, 17, "[17] INT 'tag' size=1 bits_offset=0 nr_bits=8 encoding=(none)"),
    ({"func": False}, 12, "[12] ENUM '(anon)' encoding=UNSIGNED size=4 vlen=1\n\t'x' val=1"),
    ({"func": False}, 13, "[13] TYPEDEF 'fn' type_id=12"),
    ({"func_global": False}, 13, "[13] FUNC 'fn' type_id=12 linkage=static"),
    ({"float": False}, 16, "[16] STRUCT '(anon)' size=4 vlen=0"),
    ({"type_tag": False}, 18, "[18] CONST '(anon)' type_id=1"),
    ({"enum64": False}, 6, "[6] ENUM 'e' encoding=UNSIGNED size=4 vlen=2\n\t'E1' val=4294967295\n\t'E2' val=7"),
    ({"enum64": False}, 19, "[19] UNION 'big' size=8 vlen=1\n\t'E64' type_id=24 bits_offset=0"),
    ({"enum64": False}, 24, "[24] INT 'enum64_placeholder' size=1 bits_offset=0 nr_bits=8 encoding=(none)"),
    ({}, 13, "[13] FUNC 'fn' type_id=12 linkage=global"),
]


@pytest.mark.parametrize("features,type_id,expected", SANITIZE_ROWS)
def test_sanitize_rules(features, type_id, expected):
    from harness.elf.btf_dump import dump_type
    sanitized = Btf.parse(Btf.parse(BTF).sanitize(**features).encode())
    assert dump_type(sanitized, type_id) == expected
    assert len(sanitized.strings) >= len(STRINGS)


def test_sanitize_qmark_datasec_and_unknown_feature():
    strings = STRINGS + b"?.maps\0"
    types = TYPES + struct.pack("<III", len(STRINGS), 15 << 24, 0)     # empty DATASEC "?.maps"
    btf = Btf.parse(btf_blob(types, strings))
    out = btf.sanitize(qmark_datasec=False)
    assert out.name_of(24) == "_.maps" and btf.name_of(24) == "?.maps"
    with pytest.raises(TypeError):
        btf.sanitize(no_such_feature=False)


def test_header_with_layout_section_roundtrip_and_sanitize():
    layout = bytes(range(8))
    pad = b"\0" * (-(len(TYPES) + len(STRINGS)) % 4)          # the layout section is 4-byte aligned
    body = TYPES + STRINGS + pad + layout
    hdr = struct.pack("<HBBIIIIIII", 0xEB9F, 1, 0, 32, 0, len(TYPES), len(TYPES), len(STRINGS),
                      len(TYPES) + len(STRINGS) + len(pad), len(layout))
    btf = Btf.parse(hdr + body)
    assert btf.layout == layout and btf.encode() == hdr + body
    dropped = btf.sanitize(layout=False).encode()
    assert Btf.parse(dropped).layout is None and len(dropped) == len(hdr) + len(TYPES) + len(STRINGS)


# ----------------------------------------------------------------- malformed input
MALFORMED = [
    ("short header", BTF[:10], "header truncated"),
    ("bad magic", b"\x00\x00" + BTF[2:], "bad BTF magic"),
    ("big endian", b"\xeb\x9f" + BTF[2:], "big-endian"),
    ("version", BTF[:2] + b"\x02" + BTF[3:], "unsupported BTF version"),
    ("flags", BTF[:3] + b"\x01" + BTF[4:], "unsupported BTF flags"),
    ("hdr_len small", btf_blob(hdr_len=8), "bad BTF hdr_len"),
    ("hdr_len huge", btf_blob(hdr_len=1 << 30), "bad BTF hdr_len"),
    ("type_len huge", btf_blob(type_len=1 << 31), "extends past the end"),
    ("type_off unaligned", btf_blob(type_off=2), "unaligned"),
    ("type_len unaligned", btf_blob(type_len=len(TYPES) - 2), "multiple of 4"),
    ("str_len huge", btf_blob(str_len=0xFFFFFFFF), "extends past the end"),
    ("str_off past end", btf_blob(str_off=1 << 20), "extends past the end"),
    ("empty strings", btf_blob(str_len=0), "NUL"),
    ("strings not NUL-terminated", btf_blob(strings=STRINGS + b"x"), "NUL"),
    ("unknown kind", btf_blob(TYPES + t(None, 25, 0, 0)), "unknown kind 25"),
    ("kind 0", btf_blob(TYPES + t(None, 0, 0, 0)), "unknown kind 0"),
    ("vlen overflow", btf_blob(TYPES + t("s", 4, 0xFFFF, 4)), "vlen 65535 overflows"),
    ("truncated type", btf_blob(TYPES + t("int", 1, 0, 4)), "truncated"),
    ("name_off out of range", btf_blob(TYPES + u32(len(STRINGS) + 5, 16 << 24, 4)),
     "name_off"),
    ("type id out of range", btf_blob(TYPES + t(None, 2, 0, 999)), "type_id 999 out of range"),
    ("member type out of range", btf_blob(TYPES + t("s", 4, 1, 4) + u32(OFF["a"], 77, 0)), "member 0 type_id 77"),
    ("member name out of range", btf_blob(TYPES + t("s", 4, 1, 4) + u32(9999, 1, 0)), "member 0 name_off"),
    ("array elem out of range", btf_blob(TYPES + t(None, 3, 0, 0) + u32(50, 1, 2)), "type 50 out of range"),
    ("datasec var out of range", btf_blob(TYPES + t(".data", 15, 1, 4) + u32(88, 0, 4)), "type_id 88"),
]


@pytest.mark.parametrize("label,data,message", MALFORMED, ids=[row[0] for row in MALFORMED])
def test_malformed_btf(label, data, message):
    with pytest.raises(FormatError, match=message) as exc:
        Btf.parse(data, where="x.o: section .BTF")
    text = str(exc.value)
    assert text.startswith("x.o: section .BTF: ") and "\n" not in text


def test_every_truncation_is_a_format_error():
    for n in range(len(BTF)):
        with pytest.raises(FormatError):
            Btf.parse(BTF[:n])


def test_byte_flips_never_crash():
    """Flip every byte with several masks: parse succeeds (and dumps) or raises FormatError."""
    ok = bad = 0
    for pos in range(len(BTF)):
        for mask in (0x01, 0x80, 0xFF):
            data = bytearray(BTF)
            data[pos] ^= mask
            try:
                btf = Btf.parse(bytes(data))
            except FormatError:
                bad += 1
                continue
            btf.dump_text()
            btf.kind_counts()
            ok += 1
    assert ok and bad          # both outcomes happen, so the loop exercises both paths


def test_resolve_loop_is_detected():
    loop = btf_blob(t("td", 8, 0, 2) + t("td", 8, 0, 1))
    btf = Btf.parse(loop)
    with pytest.raises(FormatError, match="loop"):
        btf.resolve(1)
    with pytest.raises(FormatError, match="loop"):
        btf.size_of(1)
