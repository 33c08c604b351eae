"""A BPF ELF object, read once with pyelftools into plain Python values.

Everything (sections, symbols, relocations, programs, BTF, BTF.ext) is read eagerly
in `from_bytes`, inside one guard: pyelftools signals malformed input with many exception
types (ELFError, construct errors, struct.error, IndexError, ZeroDivisionError, ...), and
all of them become one FormatError naming the file.  After construction nothing touches
pyelftools again, so later code cannot hit a parser error at a surprising place.

Programs are what libbpf calls them: every function symbol (STT_FUNC, global or static)
inside an executable (SHF_EXECINSTR) section, decoded with harness.isa.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import SymbolTableSection

from harness.elf.btf import Btf
from harness.elf.btf_ext import BtfExt
from harness.errors import FormatError, HarnessError
from harness.isa import insn as isa

SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 0x1, 0x2, 0x4
SHN_UNDEF, SHN_ABS, SHN_COMMON = 0, 0xFFF1, 0xFFF2
_SPECIAL_SHNDX = {"SHN_UNDEF": SHN_UNDEF, "SHN_ABS": SHN_ABS, "SHN_COMMON": SHN_COMMON}
BPF_OBJ_NAME_LEN = 16
# Section types pyelftools does not name (it reports them as bare numbers).
_EXTRA_SHT_NAMES = {0x6FFF4C00: "SHT_LLVM_ODRTAB", 0x6FFF4C01: "SHT_LLVM_LINKER_OPTIONS",
                    0x6FFF4C03: "SHT_LLVM_ADDRSIG", 0x6FFF4C04: "SHT_LLVM_DEPENDENT_LIBRARIES"}


def object_name(path: str) -> str:
    """libbpf's bpf_object__new(): basename cut to 15 chars, then cut at the first '.'."""
    return os.path.basename(path)[:BPF_OBJ_NAME_LEN - 1].split(".", 1)[0]


@dataclass(frozen=True)
class Section:
    index: int
    name: str
    sh_type: str            # pyelftools name, e.g. "SHT_PROGBITS", "SHT_NOBITS"
    sh_flags: int
    data: bytes             # b"" for SHT_NOBITS
    size: int               # sh_size (the only size of a NOBITS section)
    addralign: int
    link: int
    info: int

    @property
    def is_exec(self) -> bool:
        return bool(self.sh_flags & SHF_EXECINSTR)


@dataclass(frozen=True)
class Symbol:
    index: int
    name: str
    value: int
    size: int
    type: str               # "STT_FUNC", "STT_OBJECT", "STT_SECTION", "STT_NOTYPE", ...
    bind: str               # "STB_GLOBAL", "STB_LOCAL", "STB_WEAK"
    visibility: str         # "STV_DEFAULT", "STV_HIDDEN", ...
    shndx: int              # section index (SHN_UNDEF=0, SHN_ABS, SHN_COMMON as numbers)
    section_name: str | None


@dataclass(frozen=True)
class Relocation:
    offset: int             # r_offset, bytes into the target section
    symbol: Symbol | None
    type: int               # R_BPF_* number (R_BPF_64_64=1, R_BPF_64_ABS64=2, R_BPF_64_ABS32=3, R_BPF_64_32=10)
    addend: int | None      # None for SHT_REL


@dataclass(frozen=True)
class Program:
    name: str
    section: str
    sec_index: int
    offset: int             # bytes into the section
    size: int               # bytes
    bind: str
    insns: list = field(repr=False)
    relocations: list = field(default_factory=list, repr=False)

    @property
    def insn_offset(self) -> int:
        return self.offset // isa.INSN_SIZE

    @property
    def insn_count(self) -> int:
        return len(self.insns)


class BpfObject:
    def __init__(self):
        self.path = ""
        self.name = ""
        self.sections: list[Section] = []
        self.symbols: list[Symbol] = []
        self.relocations: dict[int, list[Relocation]] = {}
        self.btf: Btf | None = None
        self.btf_ext: BtfExt | None = None
        self._programs: list[Program] = []

    @classmethod
    def open(cls, path: str) -> "BpfObject":
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise FormatError(f"cannot read: {exc.strerror or exc}", path=path) from None
        return cls.from_bytes(data, path)

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<memory>") -> "BpfObject":
        """Read an object from bytes; `name` is the path libbpf would derive the name from."""
        obj = cls()
        obj.path, obj.name = name, object_name(name)
        try:
            obj._load(bytes(data))
        except HarnessError:
            raise
        except Exception as exc:  # noqa: BLE001 - pyelftools has no common error base
            text = " ".join(str(exc).split()) or "no detail"
            raise FormatError(f"malformed ELF ({type(exc).__name__}: {text[:200]})", path=name) from None
        return obj

    # ------------------------------------------------------------------ reading
    def _load(self, data: bytes) -> None:
        if data[:4] != b"\x7fELF":
            raise FormatError("not an ELF file", path=self.path)
        elf = ELFFile(io.BytesIO(data))
        if elf.header["e_machine"] != "EM_BPF":
            raise FormatError(f"not a BPF object (e_machine {elf.header['e_machine']})", path=self.path)
        if not elf.little_endian or elf.elfclass != 64:
            raise FormatError("only 64-bit little-endian BPF objects are supported", path=self.path)
        raw_sections = list(elf.iter_sections())
        for idx, sec in enumerate(raw_sections):
            h = sec.header
            nobits = h["sh_type"] == "SHT_NOBITS"
            blob = b"" if nobits else sec.data()
            if not nobits and len(blob) != h["sh_size"]:
                raise FormatError(f"section {sec.name or idx} extends past the end of the file", path=self.path)
            sh_type = h["sh_type"]
            sh_type = _EXTRA_SHT_NAMES.get(sh_type, f"SHT_0x{sh_type:x}") if isinstance(sh_type, int) else sh_type
            self.sections.append(Section(idx, sec.name, sh_type, h["sh_flags"], blob, h["sh_size"],
                                         h["sh_addralign"], h["sh_link"], h["sh_info"]))
        for sec in raw_sections:
            if isinstance(sec, SymbolTableSection) and sec.header["sh_type"] == "SHT_SYMTAB":
                self.symbols = [self._symbol(i, s) for i, s in enumerate(sec.iter_symbols())]
        for sec in raw_sections:
            if isinstance(sec, RelocationSection):
                self._read_relocations(sec)
        self._read_btf()
        self._programs = self._find_programs()

    def _symbol(self, index: int, s) -> Symbol:
        shndx = s["st_shndx"]
        shndx = _SPECIAL_SHNDX.get(shndx, shndx) if isinstance(shndx, str) else shndx
        if not isinstance(shndx, int):
            shndx = SHN_UNDEF
        sec_name = self.sections[shndx].name if 0 < shndx < len(self.sections) else None
        info = s["st_info"]
        return Symbol(index, s.name, s["st_value"], s["st_size"], str(info["type"]), str(info["bind"]),
                      str(s["st_other"]["visibility"]), shndx, sec_name)

    def _read_relocations(self, sec) -> None:
        target = sec.header["sh_info"]
        out = self.relocations.setdefault(target, [])
        has_addend = sec.is_RELA()
        for r in sec.iter_relocations():
            sym_idx = r["r_info_sym"]
            sym = self.symbols[sym_idx] if sym_idx < len(self.symbols) else None
            if sym_idx and sym is None:
                raise FormatError(f"relocation in {sec.name} refers to missing symbol {sym_idx}", path=self.path)
            out.append(Relocation(r["r_offset"], sym, r["r_info_type"], r["r_addend"] if has_addend else None))

    def _read_btf(self) -> None:
        btf_sec, ext_sec = self.section(".BTF"), self.section(".BTF.ext")
        if btf_sec is not None:
            self.btf = Btf.parse(btf_sec.data, where=f"{self.path}: section .BTF")
        if ext_sec is not None:
            self.btf_ext = BtfExt.parse(ext_sec.data, btf=self.btf, where=f"{self.path}: section .BTF.ext")

    def _find_programs(self) -> list[Program]:
        progs = []
        for sym in self.symbols:
            if sym.type != "STT_FUNC" or not 0 < sym.shndx < len(self.sections):
                continue
            sec = self.sections[sym.shndx]
            if not sec.is_exec:
                continue
            where = f"{self.path}: program {sym.name} in {sec.name}"
            if sym.value % isa.INSN_SIZE or sym.value + sym.size > len(sec.data):
                raise FormatError(f"program {sym.name} (offset {sym.value} size {sym.size}) "
                                  f"does not fit section {sec.name}", path=self.path)
            insns = isa.decode(sec.data[sym.value:sym.value + sym.size], where=where)
            relos = [r for r in self.relocations.get(sec.index, ())
                     if sym.value <= r.offset < sym.value + sym.size]
            progs.append(Program(sym.name, sec.name, sec.index, sym.value, sym.size, sym.bind, insns, relos))
        progs.sort(key=lambda p: (p.sec_index, p.offset))
        return progs

    # ------------------------------------------------------------------ queries
    def programs(self) -> list[Program]:
        return list(self._programs)

    def program_btf_ext(self, prog: Program) -> dict[str, list]:
        """func_info, line_info and core_relo records of one program, insn_off in insns from its start."""
        if self.btf_ext is None:
            return {"func_info": [], "line_info": [], "core_relo": []}
        return {desc: self.btf_ext.program_records(desc, prog.section, prog.offset, prog.size)
                for desc in ("func_info", "line_info", "core_relo")}

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)

    def relocations_for(self, name: str) -> list[Relocation]:
        sec = self.section(name)
        return list(self.relocations.get(sec.index, ())) if sec else []

    @property
    def license(self) -> str | None:
        sec = self.section("license")
        return sec.data.split(b"\0", 1)[0].decode("utf-8", "replace") if sec else None

    @property
    def kversion(self) -> int | None:
        sec = self.section("version")
        return int.from_bytes(sec.data[:4], "little") if sec and len(sec.data) >= 4 else None

    def data_sections(self) -> list[Section]:
        """Sections libbpf turns into internal maps: .data*, .rodata*, .bss*, .percpu*."""
        return [s for s in self.sections if _is_data_section(s.name)]

    def maps(self) -> list[str]:
        """Names of the BTF-defined maps: the variables of the `.maps` DATASEC."""
        if self.btf is None or self.section(".maps") is None:
            return []
        return [name for _, name, _, _ in self.btf.datasec_vars(".maps")]


def _is_data_section(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in (".data", ".rodata", ".bss", ".percpu"))
