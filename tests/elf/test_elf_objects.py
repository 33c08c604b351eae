"""BpfObject, BTF and BTF.ext over tests/elf/data/kinds.c compiled by every available Clang."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harness import cli
from harness.elf import btf_kinds as K
from harness.elf.btf import Btf
from harness.elf.btf_ext import BtfExt
from harness.elf.inspect_cmd import summarize
from harness.elf.object import BpfObject, object_name
from harness.isa import insn as isa

DATA = Path(__file__).parent / "data"


def _kinds_expected(major: int) -> set[str]:
    kinds = {"INT", "PTR", "ARRAY", "STRUCT", "UNION", "ENUM", "FWD", "TYPEDEF", "VOLATILE", "CONST",
             "RESTRICT", "FUNC", "FUNC_PROTO", "VAR", "DATASEC", "FLOAT"}
    if major >= 14:
        kinds |= {"DECL_TAG", "TYPE_TAG"}
    if major >= 15:
        kinds.add("ENUM64")
    return kinds


def test_btf_and_btf_ext_reencode_byte_exact(kinds_obj):
    obj = BpfObject.open(str(kinds_obj))
    btf_bytes, ext_bytes = obj.section(".BTF").data, obj.section(".BTF.ext").data
    assert obj.btf.encode() == btf_bytes
    assert obj.btf_ext.encode() == ext_bytes
    # A fresh parse of the re-encoding is equal again (no hidden state).
    assert Btf.parse(obj.btf.encode()).encode() == btf_bytes
    assert BtfExt.parse(ext_bytes, btf=obj.btf).encode() == ext_bytes


def test_every_kind_present(kinds_obj, toolchain):
    btf = BpfObject.open(str(kinds_obj)).btf
    assert set(btf.kind_counts()) == _kinds_expected(toolchain.major)


def test_kind_fields(kinds_obj, toolchain):
    btf = BpfObject.open(str(kinds_obj)).btf
    t = btf.types[btf.find("int", "INT")]
    assert (t.size, t.nr_bits, t.bits_offset, t.encoding) == (4, 32, 0, K.BTF_INT_SIGNED)
    bits = btf.types[btf.find("bits", "STRUCT")]
    assert bits.kind_flag and bits.size == 8
    assert [(btf.string_at(m.name_off), m.bit_offset(True), m.bitfield_size(True)) for m in bits.members] == \
        [("a", 0, 3), ("b", 3, 5), ("c", 32, 0)]
    union = btf.types[btf.find("value", "UNION")]
    assert [btf.string_at(m.name_off) for m in union.members] == ["i", "f"]
    assert btf.types[union.members[1].type].kind == K.FLOAT and btf.size_of(union.members[1].type) == 4
    color = btf.types[btf.find("color", "ENUM")]
    assert [(btf.string_at(e.name_off), e.val) for e in color.members] == [("RED", 0), ("GREEN", 5), ("NEG", -3)]
    assert btf.types[btf.find("fwd_only")].kind == K.FWD
    # ro_var: CONST -> VOLATILE -> int; resolve() skips both.
    ro = btf.types[btf.find("ro_var", "VAR")]
    assert ro.linkage == K.BTF_VAR_GLOBAL_ALLOCATED
    assert btf.types[ro.type].kind == K.CONST and btf.types[btf.types[ro.type].type].kind == K.VOLATILE
    assert btf.resolve(ro.type) == btf.find("int", "INT")
    assert btf.size_of(btf.find("arr", "VAR")) == 16
    arr = btf.types[btf.types[btf.find("arr", "VAR")].type]
    assert arr.kind == K.ARRAY and arr.single.nelems == 4
    # FUNC linkage and FUNC_PROTO params; RESTRICT on the first param.
    helper = btf.types[btf.find("add_restrict", "FUNC")]
    assert helper.linkage == K.BTF_FUNC_STATIC
    proto = btf.types[helper.type]
    assert proto.kind == K.FUNC_PROTO and [btf.string_at(p.name_off) for p in proto.members] == ["p", "n"]
    assert btf.types[proto.members[0].type].kind == K.RESTRICT
    assert btf.types[btf.find("prog", "FUNC")].linkage == K.BTF_FUNC_GLOBAL
    maps = btf.types[btf.find(".maps", "DATASEC")]
    assert [btf.name_of(v.type) for v in maps.members] == ["counters"]
    if toolchain.major >= 14:
        tags = {btf.name_of(i): btf.types[i] for i in range(1, btf.nr_types) if btf.types[i].kind == K.DECL_TAG}
        assert tags["comment:test"].component_idx == -1 and tags["comment:test"].type == btf.find("prog", "FUNC")
        assert tags["param_tag"].component_idx == 1
        assert btf.decl_tags("prog") == ["comment:test"] and btf.decl_tags("add_restrict") == []
        assert btf.decl_tags("add_restrict", 1) == ["param_tag"]
        assert btf.decl_tags(btf.find("bits", "STRUCT")) == ["struct_tag"]
        assert btf.types[btf.find("user", "TYPE_TAG")].type == btf.find("int", "INT")
    else:
        assert btf.decl_tags("prog") == []
    if toolchain.major >= 15:
        big = btf.types[btf.find("big", "ENUM64")]
        assert big.size == 8 and big.members[0].value(big.kind_flag) == 0x123456789


def test_programs_and_sections(kinds_obj):
    obj = BpfObject.open(str(kinds_obj))
    progs = {p.name: p for p in obj.programs()}
    assert set(progs) == {"prog", "second", "add_restrict"}
    assert (progs["prog"].section, progs["second"].section, progs["add_restrict"].section) == ("xdp", "tc", ".text")
    for p in progs.values():
        sec = obj.section(p.section)
        assert p.insns == isa.decode(sec.data[p.offset:p.offset + p.size])
        assert p.insn_count * 8 == p.size
    assert obj.license == "GPL" and obj.kversion is None
    assert obj.maps() == ["counters"]
    assert {s.name for s in obj.data_sections()} == {".data", ".rodata", ".bss", ".percpu"}
    assert obj.section(".bss").sh_type == "SHT_NOBITS" and obj.section(".bss").data == b""
    # The call from prog to the static subprogram is relocated against .text.
    assert any(r.symbol.section_name == ".text" for r in progs["prog"].relocations if r.symbol)
    syms = {s.name: s for s in obj.symbols}
    assert syms["counters"].section_name == ".maps" and syms["counters"].bind == "STB_GLOBAL"


def test_btf_ext_records(kinds_obj):
    obj = BpfObject.open(str(kinds_obj))
    ext = obj.btf_ext
    funcs = ext.func_info.by_section()
    assert set(funcs) == {"xdp", "tc", ".text"}
    assert obj.btf.name_of(funcs["xdp"][0].type_id) == "prog"
    assert ext.func_info.rec_size == 8 and ext.line_info.rec_size == 16 and ext.core_relo.rec_size == 16
    lines = [r.line_num for recs in ext.line_info.by_section().values() for r in recs]
    nr_source_lines = len((DATA / "kinds.c").read_text().splitlines())
    assert max(lines) <= nr_source_lines and any(lines)
    relos = ext.core_relo.by_section()["xdp"]
    assert [r.kind_name for r in relos] == ["BPF_CORE_FIELD_BYTE_OFFSET", "BPF_CORE_TYPE_EXISTS"]
    assert obj.btf.string_at(relos[0].access_str_off) == "0:1"          # t->tgid
    assert obj.btf.name_of(relos[0].type_id) == "task"


DUMP_PATTERNS = [
    r"^\[\d+\] INT 'int' size=4 bits_offset=0 nr_bits=32 encoding=SIGNED$",
    r"^\[\d+\] PTR '\(anon\)' type_id=\d+$",
    r"^\[\d+\] STRUCT 'bits' size=8 vlen=3\n\t'a' type_id=\d+ bits_offset=0 bitfield_size=3\n"
    r"\t'b' type_id=\d+ bits_offset=3 bitfield_size=5\n\t'c' type_id=\d+ bits_offset=32$",
    r"^\[\d+\] FUNC 'add_restrict' type_id=\d+ linkage=static$",
    r"^\[\d+\] FUNC_PROTO '\(anon\)' ret_type_id=\d+ vlen=2\n\t'p' type_id=\d+\n\t'n' type_id=\d+$",
    r"^\[\d+\] VAR 'counters' type_id=\d+, linkage=global$",
    r"^\[\d+\] DATASEC '\.maps' size=0 vlen=1\n\ttype_id=\d+ offset=0 size=32 \(VAR 'counters'\)$",
    r"^\[\d+\] FWD 'fwd_only' fwd_kind=struct$",
    r"^\[\d+\] FLOAT 'float' size=4$",
    r"^\[\d+\] ARRAY '\(anon\)' type_id=\d+ index_type_id=\d+ nr_elems=4$",
]


@pytest.mark.parametrize("pattern", DUMP_PATTERNS)
def test_dump_known_lines(kinds_obj, pattern):
    text = BpfObject.open(str(kinds_obj)).btf.dump_text()
    assert re.search(pattern, text, re.M), pattern


def test_dump_tags(kinds_obj, toolchain):
    if toolchain.major < 14:
        pytest.skip(f"{toolchain.name} emits no decl/type tags (needs clang >= 14)")
    text = BpfObject.open(str(kinds_obj)).btf.dump_text()
    assert re.search(r"^\[\d+\] DECL_TAG 'comment:test' type_id=\d+ component_idx=-1$", text, re.M)
    assert re.search(r"^\[\d+\] TYPE_TAG 'user' type_id=\d+$", text, re.M)


def test_sanitize_for_oldest_kernel_keeps_ids_and_parses(kinds_obj):
    btf = BpfObject.open(str(kinds_obj)).btf
    old = btf.sanitize(func=False, datasec=False, float=False, decl_tag=False, type_tag=False, enum64=False)
    again = Btf.parse(old.encode())
    counts = again.kind_counts()
    assert not set(counts) & {"VAR", "DATASEC", "FUNC", "FUNC_PROTO", "FLOAT", "DECL_TAG", "TYPE_TAG", "ENUM64"}
    assert again.nr_types >= btf.nr_types                      # ids preserved, maybe a placeholder added
    assert again.string_at(again.types[btf.find(".maps", "DATASEC")].name_off) == "_maps"
    assert btf.encode() == BpfObject.open(str(kinds_obj)).section(".BTF").data   # original untouched


def test_summarize_and_cli_json(kinds_obj, capsys):
    obj = BpfObject.open(str(kinds_obj))
    s = summarize(obj)
    assert s["name"] == object_name(str(kinds_obj)) == "kinds"
    assert {p["name"] for p in s["programs"]} == {"prog", "second", "add_restrict"}
    assert s["btf_ext"]["core_relo"] == 2
    assert cli.main(["inspect", str(kinds_obj), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == s


def test_cli_btf_dump_matches_dump_text(kinds_obj, capsys):
    assert cli.main(["inspect", "--btf", str(kinds_obj)]) == 0
    assert capsys.readouterr().out == BpfObject.open(str(kinds_obj)).btf.dump_text()


def test_cli_human_summary(kinds_obj, capsys):
    assert cli.main(["inspect", str(kinds_obj)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^  xdp +prog +\d+ insns$", out, re.M)
    assert "maps (1): counters" in out and "license: GPL" in out


def test_program_btf_ext_split(kinds_obj):
    obj = BpfObject.open(str(kinds_obj))
    for prog in obj.programs():
        recs = obj.program_btf_ext(prog)
        (fi,) = recs["func_info"]                       # one FUNC per program, at its first insn
        assert fi.insn_off == 0 and obj.btf.name_of(fi.type_id) == prog.name
        assert all(0 <= r.insn_off < prog.insn_count for r in recs["line_info"])
    prog = next(p for p in obj.programs() if p.name == "prog")
    relos = obj.program_btf_ext(prog)["core_relo"]
    assert [r.kind_str for r in relos] == ["byte_off", "type_exists"]
    # The CO-RE field access is a load from r1 (the task pointer) at offset 4 (tgid).
    first = prog.insns[relos[0].insn_off]
    assert first.off == 4 or first.imm == 4


def _bpftool():
    import shutil
    return shutil.which("bpftool") or shutil.which("/usr/sbin/bpftool")


def test_dump_equals_real_bpftool(kinds_obj):
    import subprocess
    tool = _bpftool()
    if tool is None:
        pytest.skip("bpftool not installed (apt-get install bpftool) - differential dump check not possible")
    proc = subprocess.run([tool, "btf", "dump", "file", str(kinds_obj)], capture_output=True, text=True, timeout=60)
    if proc.returncode:
        pytest.skip(f"bpftool cannot dump this object: {proc.stderr.strip()[:200]}")
    assert BpfObject.open(str(kinds_obj)).btf.dump_text() == proc.stdout


def test_externs_object(externs_obj):
    obj = BpfObject.open(str(externs_obj))
    assert obj.btf.encode() == obj.section(".BTF").data
    assert obj.btf_ext.encode() == obj.section(".BTF.ext").data
    assert obj.license == "Dual BSD/GPL" and obj.kversion == 0x060100
    progs = [(p.section, p.name) for p in obj.programs()]
    assert progs == [(".text", "global_sub"), (".text", "static_sub"), ("xdp", "first"), ("xdp", "second_in_xdp")]
    binds = {p.name: p.bind for p in obj.programs()}
    assert binds["global_sub"] == "STB_GLOBAL" and binds["static_sub"] == "STB_LOCAL"
    assert {s.name for s in obj.data_sections()} >= {".data.custom", ".rodata.custom", ".percpu.data"}
    syms = {s.name: s for s in obj.symbols}
    for name in ("LINUX_KERNEL_VERSION", "CONFIG_MISSING", "bpf_rcu_read_lock", "some_kernel_var"):
        assert syms[name].shndx == 0 and syms[name].section_name is None, name
    assert syms["CONFIG_MISSING"].bind == "STB_WEAK"
    relocated = {r.symbol.name for p in obj.programs() for r in p.relocations if r.symbol}
    assert {"LINUX_KERNEL_VERSION", "bpf_rcu_read_lock"} <= relocated
    kconfig = obj.btf.types[obj.btf.find(".kconfig", "DATASEC")]
    assert {obj.btf.name_of(v.type) for v in kconfig.members} == {"LINUX_KERNEL_VERSION", "CONFIG_MISSING"}
    assert all(obj.btf.types[v.type].linkage == K.BTF_VAR_GLOBAL_EXTERN for v in kconfig.members)
    assert obj.btf.types[obj.btf.find("bpf_rcu_read_lock", "FUNC")].linkage == K.BTF_FUNC_EXTERN
    # Each program of the shared xdp section gets its own func_info record at insn 0.
    for p in obj.programs():
        (fi,) = obj.program_btf_ext(p)["func_info"]
        assert fi.insn_off == 0 and obj.btf.name_of(fi.type_id) == p.name


def test_object_without_btf(toolchain, compile_cache, capsys):
    path = compile_cache("externs.c", toolchain, debug=False)
    obj = BpfObject.open(str(path))
    assert obj.btf is None and obj.btf_ext is None and obj.maps() == []
    assert len(obj.programs()) == 4 and obj.program_btf_ext(obj.programs()[0])["func_info"] == []
    s = summarize(obj)
    assert s["btf"] is None and s["btf_ext"] is None and s["data_sections"][0]["vars"] == []
    assert cli.main(["inspect", "--btf", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"harness: error: {path}: no .BTF section to dump\n"
