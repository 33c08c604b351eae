"""Hand-built BTF and BTF.ext blobs for the toolchain-independent tests.

The bytes are packed here with `struct` directly from the kernel's layouts (not through
harness.elf.layout), so that parsing them checks our declarations against an
independent encoding.  EXPECTED_DUMP is what `bpftool btf dump file` prints for BTF.
"""

from __future__ import annotations

import struct

NAMES = ["int", "s", "a", "b", "u", "e", "E1", "E2", "fw", "td", "x", "fn", "v", ".data", "float",
         "tag", "user", "big", "E64", "ue", "U", "sbig", "S64", "bool", "char", ".text", "file.c", "src line", "0:1"]


def strtab() -> tuple[bytes, dict[str, int]]:
    data, offs = b"\0", {}
    for n in NAMES:
        offs[n] = len(data)
        data += n.encode() + b"\0"
    return data, offs


STRINGS, OFF = strtab()


def t(name: str | None, kind: int, vlen: int, size_type: int, kflag: int = 0) -> bytes:
    return struct.pack("<III", OFF[name] if name else 0, (kflag << 31) | (kind << 24) | vlen, size_type)


def u32(*vals: int) -> bytes:
    return struct.pack(f"<{len(vals)}I", *vals)


def i32(v: int) -> bytes:
    return struct.pack("<i", v)


TYPES = b"".join([
    t("int", 1, 0, 4) + u32((1 << 24) | 32),                                 # 1 INT signed
    t(None, 2, 0, 1),                                                         # 2 PTR -> int
    t(None, 3, 0, 0) + u32(1, 1, 4),                                          # 3 ARRAY int[4]
    t("s", 4, 2, 8, kflag=1) + u32(OFF["a"], 1, (3 << 24) | 0) + u32(OFF["b"], 1, 32),  # 4 STRUCT
    t("u", 5, 1, 4) + u32(OFF["a"], 1, 0),                                    # 5 UNION
    t("e", 6, 2, 4, kflag=1) + u32(OFF["E1"]) + i32(-1) + u32(OFF["E2"]) + i32(7),     # 6 ENUM signed
    t("fw", 7, 0, 0, kflag=1),                                                # 7 FWD union
    t("td", 8, 0, 1),                                                         # 8 TYPEDEF
    t(None, 9, 0, 1),                                                         # 9 VOLATILE
    t(None, 10, 0, 9),                                                        # 10 CONST -> volatile
    t(None, 11, 0, 2),                                                        # 11 RESTRICT -> ptr
    t(None, 13, 1, 1) + u32(OFF["x"], 1),                                     # 12 FUNC_PROTO
    t("fn", 12, 1, 12),                                                       # 13 FUNC global
    t("v", 14, 0, 1) + u32(0),                                                # 14 VAR static
    t(".data", 15, 1, 4) + u32(14, 0, 4),                                     # 15 DATASEC
    t("float", 16, 0, 4),                                                     # 16 FLOAT
    t("tag", 17, 0, 13) + i32(-1),                                            # 17 DECL_TAG
    t("user", 18, 0, 1),                                                      # 18 TYPE_TAG
    t("big", 19, 1, 8) + u32(OFF["E64"], 0xFFFFFFFF, 0xFFFFFFFF),             # 19 ENUM64 unsigned
    t("ue", 6, 1, 4) + u32(OFF["U"]) + i32(-1),                               # 20 ENUM unsigned
    t("sbig", 19, 1, 8, kflag=1) + u32(OFF["S64"], 0xFFFFFFFE, 0xFFFFFFFF),   # 21 ENUM64 signed
    t("bool", 1, 0, 1) + u32((4 << 24) | 8),                                  # 22 INT bool
    t("char", 1, 0, 1) + u32((2 << 24) | 8),                                  # 23 INT char
])

EXPECTED_DUMP = """\
[1] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED
[2] PTR '(anon)' type_id=1
[3] ARRAY '(anon)' type_id=1 index_type_id=1 nr_elems=4
[4] STRUCT 's' size=8 vlen=2
\t'a' type_id=1 bits_offset=0 bitfield_size=3
\t'b' type_id=1 bits_offset=32
[5] UNION 'u' size=4 vlen=1
\t'a' type_id=1 bits_offset=0
[6] ENUM 'e' encoding=SIGNED size=4 vlen=2
\t'E1' val=-1
\t'E2' val=7
[7] FWD 'fw' fwd_kind=union
[8] TYPEDEF 'td' type_id=1
[9] VOLATILE '(anon)' type_id=1
[10] CONST '(anon)' type_id=9
[11] RESTRICT '(anon)' type_id=2
[12] FUNC_PROTO '(anon)' ret_type_id=1 vlen=1
\t'x' type_id=1
[13] FUNC 'fn' type_id=12 linkage=global
[14] VAR 'v' type_id=1, linkage=static
[15] DATASEC '.data' size=4 vlen=1
\ttype_id=14 offset=0 size=4 (VAR 'v')
[16] FLOAT 'float' size=4
[17] DECL_TAG 'tag' type_id=13 component_idx=-1
[18] TYPE_TAG 'user' type_id=1
[19] ENUM64 'big' encoding=UNSIGNED size=8 vlen=1
\t'E64' val=18446744073709551615ULL
[20] ENUM 'ue' encoding=UNSIGNED size=4 vlen=1
\t'U' val=4294967295
[21] ENUM64 'sbig' encoding=SIGNED size=8 vlen=1
\t'S64' val=-2LL
[22] INT 'bool' size=1 bits_offset=0 nr_bits=8 encoding=BOOL
[23] INT 'char' size=1 bits_offset=0 nr_bits=8 encoding=CHAR
"""


def btf_blob(types: bytes = TYPES, strings: bytes = STRINGS, **hdr) -> bytes:
    fields = dict(magic=0xEB9F, version=1, flags=0, hdr_len=24, type_off=0, type_len=len(types),
                  str_off=len(types), str_len=len(strings))
    fields.update(hdr)
    return struct.pack("<HBBIIIII", *fields.values()) + types + strings


BTF = btf_blob()


def ext_subsection(rec_size: int, sections: list[tuple[str, list[bytes]]]) -> bytes:
    out = u32(rec_size)
    for name, records in sections:
        out += u32(OFF[name], len(records)) + b"".join(records)
    return out


FUNC_INFO = ext_subsection(8, [(".text", [u32(0, 13)])])
LINE_INFO = ext_subsection(16, [(".text", [u32(0, OFF["file.c"], OFF["src line"], (12 << 10) | 5),
                                           u32(8, OFF["file.c"], OFF["src line"], (13 << 10) | 1)])])
CORE_RELO = ext_subsection(16, [(".text", [u32(8, 4, OFF["0:1"], 0)])])


def ext_blob(func: bytes = FUNC_INFO, line: bytes = LINE_INFO, core: bytes | None = CORE_RELO, **hdr) -> bytes:
    fields = dict(magic=0xEB9F, version=1, flags=0, hdr_len=24 if core is None else 32,
                  func_info_off=0, func_info_len=len(func), line_info_off=len(func), line_info_len=len(line))
    if core is not None:
        fields.update(core_relo_off=len(func) + len(line), core_relo_len=len(core))
    fields.update(hdr)
    fmt = "<HBBI" + "I" * (len(fields) - 4)
    return struct.pack(fmt, *fields.values()) + func + line + (core or b"")


BTF_EXT = ext_blob()
