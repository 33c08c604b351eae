"""ELF objects, BTF and BTF.ext of BPF programs.

    from harness.elf import BpfObject, Btf, BtfExt
    obj = BpfObject.open("prog.o")       # FormatError (one line, names the file) on bad input
    obj.programs(), obj.btf.find("counters", "VAR"), obj.btf_ext.func_info.by_section()

Modules: layout (declarative records), btf_kinds (BTF records + kind table), btf (model,
parse, encode, queries, mutation), btf_dump (bpftool raw text), btf_sanitize (libbpf's
kernel-feature rewrites), btf_ext, object (pyelftools reader), inspect_cmd (CLI).
"""

from harness.elf.btf import Btf, Type
from harness.elf.btf_ext import BtfExt
from harness.elf.object import BpfObject, Program, Relocation, Section, Symbol, object_name

__all__ = ["BpfObject", "Btf", "BtfExt", "Program", "Relocation", "Section", "Symbol", "Type", "object_name"]
