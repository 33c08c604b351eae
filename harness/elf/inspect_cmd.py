"""`python -m harness inspect OBJ [--json] [--btf]`: what a BPF object contains.

The human summary lists sections, programs, BTF-defined maps, data sections, the license,
BTF type counts per kind and BTF.ext record counts.  `--btf` prints the BTF in the format
of `bpftool btf dump file OBJ`.  `--json` prints `summarize(obj)`, whose keys are:

    path          str   the file as given
    name          str   object name as libbpf derives it (basename, cut at the first '.')
    license       str | null
    kversion      int | null   contents of the "version" section
    sections      [{index, name, type, flags, size, align}]   (type as "SHT_PROGBITS" etc.)
    programs      [{name, section, offset, insn_offset, insn_count, bind}]
    maps          [str]  variables of the .maps DATASEC
    data_sections [{name, size, vars: [{name, offset, size}]}]   .data/.rodata/.bss/.percpu*
    btf           {types: int, strings_len: int, kinds: {KIND: count}} | null
    btf_ext       {func_info: int, line_info: int, core_relo: int,
                   core_relo_kinds: {BPF_CORE_*: count}} | null

The matrix's inspect stage calls `summarize()` directly.
"""

from __future__ import annotations

import json

from harness.elf.object import BpfObject
from harness.errors import FormatError


def add_arguments(parser) -> None:
    parser.add_argument("object", metavar="OBJ", help="BPF ELF object file (.o)")
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary")
    parser.add_argument("--btf", action="store_true", help="dump the BTF like `bpftool btf dump file`")


def summarize(obj: BpfObject) -> dict:
    btf, ext = obj.btf, obj.btf_ext
    data_secs = []
    for sec in obj.data_sections():
        variables = btf.datasec_vars(sec.name) if btf is not None else []
        data_secs.append({"name": sec.name, "size": sec.size,
                          "vars": [{"name": n, "offset": off, "size": sz} for _, n, off, sz in variables]})
    relo_kinds: dict[str, int] = {}
    if ext is not None:
        for s in ext.core_relo.sections:
            for r in s.records:
                relo_kinds[r.kind_name] = relo_kinds.get(r.kind_name, 0) + 1
    return {
        "path": obj.path,
        "name": obj.name,
        "license": obj.license,
        "kversion": obj.kversion,
        "sections": [{"index": s.index, "name": s.name, "type": s.sh_type, "flags": s.sh_flags,
                      "size": s.size, "align": s.addralign} for s in obj.sections if s.index],
        "programs": [{"name": p.name, "section": p.section, "offset": p.offset, "insn_offset": p.insn_offset,
                      "insn_count": p.insn_count, "bind": p.bind} for p in obj.programs()],
        "maps": obj.maps(),
        "data_sections": data_secs,
        "btf": None if btf is None else {"types": btf.nr_types - 1, "strings_len": len(btf.strings),
                                         "kinds": dict(sorted(btf.kind_counts().items()))},
        "btf_ext": None if ext is None else {**ext.counts(), "core_relo_kinds": dict(sorted(relo_kinds.items()))},
    }


def format_summary(s: dict) -> str:
    lines = [f"object {s['name']} ({s['path']})", f"license: {s['license'] or '(none)'}"]
    if s["kversion"] is not None:
        lines.append(f"kversion: {s['kversion']:#x}")
    lines.append(f"sections ({len(s['sections'])}):")
    lines += [f"  [{x['index']:2}] {x['name']:<24} {x['type']:<14} size={x['size']}" for x in s["sections"]]
    lines.append(f"programs ({len(s['programs'])}):")
    lines += [f"  {p['section']:<20} {p['name']:<24} {p['insn_count']} insns" for p in s["programs"]]
    lines.append(f"maps ({len(s['maps'])}): {', '.join(s['maps']) or '-'}")
    lines.append(f"data sections ({len(s['data_sections'])}):")
    for d in s["data_sections"]:
        names = ", ".join(v["name"] for v in d["vars"]) or "-"
        lines.append(f"  {d['name']:<20} size={d['size']} vars: {names}")
    if s["btf"] is None:
        lines.append("BTF: none")
    else:
        kinds = " ".join(f"{k}={n}" for k, n in s["btf"]["kinds"].items())
        lines.append(f"BTF: {s['btf']['types']} types, {s['btf']['strings_len']} bytes of strings; {kinds}")
    if s["btf_ext"] is None:
        lines.append("BTF.ext: none")
    else:
        e = s["btf_ext"]
        lines.append(f"BTF.ext: func_info={e['func_info']} line_info={e['line_info']} core_relo={e['core_relo']}")
    return "\n".join(lines)


def run(args) -> int:
    obj = BpfObject.open(args.object)
    if args.json:
        print(json.dumps(summarize(obj), indent=2))
    elif args.btf:
        if obj.btf is None:
            raise FormatError("no .BTF section to dump", path=obj.path)
        print(obj.btf.dump_text(), end="")
    else:
        print(format_summary(summarize(obj)))
    return 0
