"""Program relocations: record them at open, apply them at load (libbpf's
bpf_program__record_reloc, bpf_object__reloc_code and bpf_object__relocate_data).

Kinds, as libbpf names them:
  LD64          ld_imm64 of a BTF-defined map (symbol in .maps) -> BPF_PSEUDO_MAP_FD + fd
  DATA          ld_imm64 of a global variable -> BPF_PSEUDO_MAP_VALUE + fd, insn[1].imm =
                addend + symbol offset (upstream-spec §4.5; .percpu is no different)
  EXTERN_LD64   ld_imm64 of a .kconfig / .ksyms extern
  EXTERN_CALL   call of an extern function (kfunc)
  CALL          bpf-to-bpf call into .text (the callee is appended to the program)
  SUBPROG_ADDR  ld_imm64 of a function address (callbacks of bpf_loop & co)
A map that was not created (autocreate off, e.g. the kernel lacks percpu data) is not an
open-time error: its ld_imm64 is "poisoned" into two calls of POISON_LDIMM64_MAP_BASE +
map index, which the verifier rejects only if the code is reachable.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING

from harness.isa.insn import Insn
from harness.kernelapi import BpfError
from harness.uapi import (BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE,
                          POISON_LDIMM64_MAP_BASE)

if TYPE_CHECKING:
    from harness.libbpf.object import Object
    from harness.libbpf.programs import Program

BPF_LD_IMM64 = 0x18
BPF_JMP_CALL = 0x85
INSN_SZ = 8

LD64, DATA, EXTERN_LD64, EXTERN_CALL, CALL, SUBPROG_ADDR, CORE = (
    "ld64", "data", "extern_ld64", "extern_call", "call", "subprog_addr", "core")


@dataclass
class Relo:
    kind: str
    insn_idx: int           # relative to the function
    map_idx: int = -1
    sym_off: int = 0
    sym_sec_idx: int = -1
    ext_name: str = ""


def s32(v: int) -> int:
    """Wrap to the signed 32-bit imm field, as C's int assignment does."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def is_ldimm64(insn: Insn) -> bool:
    return insn.code == BPF_LD_IMM64


def is_pseudo_call(insn: Insn) -> bool:
    return insn.code == BPF_JMP_CALL and insn.src == BPF_PSEUDO_CALL


def record_relocations(obj: "Object", prog: "Program", elf_relocs) -> list[Relo]:
    """Classify the ELF relocations that fall into `prog` (bpf_program__record_reloc)."""
    out = []
    base = prog.sec_insn_off * INSN_SZ
    for r in elf_relocs:
        idx = (r.offset - base) // INSN_SZ
        sym = r.symbol
        if r.offset % INSN_SZ or not 0 <= idx < len(prog.insns):
            raise BpfError(errno.EINVAL, f"sec '{prog.sec_name}': bad relocation offset {r.offset}")
        insn = prog.insns[idx]
        sym_name = sym.name if sym is not None else ""
        if sym is None:
            raise BpfError(errno.EINVAL, f"prog '{prog.name}': bad relo without symbol at insn {idx}")
        if sym.shndx == 0:                     # extern
            ext = obj.externs.get(sym_name)
            if ext is None:
                raise BpfError(errno.EINVAL, f"prog '{prog.name}': extern relo failed to find extern for '{sym_name}'")
            kind = EXTERN_CALL if insn.code == BPF_JMP_CALL else EXTERN_LD64
            out.append(Relo(kind, idx, ext_name=sym_name))
            continue
        if is_pseudo_call(insn):
            out.append(Relo(CALL, idx, sym_off=sym.value, sym_sec_idx=sym.shndx))
            continue
        if not is_ldimm64(insn):
            raise BpfError(errno.EINVAL, f"prog '{prog.name}': invalid relo against '{sym_name}' for "
                                         f"insns[{idx}].code 0x{insn.code:x}")
        if not 0 < sym.shndx < len(obj.elf.sections):
            raise BpfError(errno.EINVAL, f"prog '{prog.name}': bad relo against '{sym_name}' in section "
                                         f"index {sym.shndx}")
        sec = obj.elf.sections[sym.shndx]
        if sec.is_exec:
            if sym.value % INSN_SZ or insn.imm % INSN_SZ:
                raise BpfError(errno.EINVAL, f"prog '{prog.name}': bad subprog addr relo against '{sym_name}' "
                                             f"at sec_off {sym.value}")
            out.append(Relo(SUBPROG_ADDR, idx, sym_off=sym.value, sym_sec_idx=sym.shndx))
            continue
        if sec.name == ".maps":
            map_idx = next((i for i, m in enumerate(obj.maps)
                            if not m.internal and m.sec_idx == sym.shndx and m.sec_offset == sym.value), -1)
            if map_idx < 0:
                raise BpfError(errno.ENOENT, f"prog '{prog.name}': map relo failed to find map for section "
                                             f"'{sec.name}', off {sym.value}")
            out.append(Relo(LD64, idx, map_idx=map_idx))
            continue
        map_idx = next((i for i, m in enumerate(obj.maps) if m.internal and m.sec_idx == sym.shndx), -1)
        if map_idx < 0:
            raise BpfError(errno.ENOENT, f"prog '{prog.name}': bad data relo against section '{sec.name}'")
        out.append(Relo(DATA, idx, map_idx=map_idx, sym_off=sym.value if sym.type != "STT_SECTION" else 0))
    return out


# ------------------------------------------------------------------------ linking
def _find_subprog(obj: "Object", sec_idx: int, sec_insn: int) -> "Program":
    for p in obj.all_programs:
        if p.sec_idx == sec_idx and p.sec_insn_off <= sec_insn < p.sec_insn_off + len(p.insns):
            return p
    raise BpfError(errno.ESRCH, f"failed to find subprog for insn {sec_insn} in section "
                                f"'{obj.elf.sections[sec_idx].name}'")


def link_program(obj: "Object", main: "Program") -> tuple[list[Insn], list[tuple["Program", int]]]:
    """Append every subprogram `main` reaches (calls and function pointers), fix call
    offsets, and return the instructions plus where each function was placed."""
    out = list(main.codes)
    placed: dict[int, int] = {id(main): 0}
    order: list[tuple["Program", int]] = [(main, 0)]
    todo = [main]
    while todo:
        p = todo.pop(0)
        base = placed[id(p)]
        relo_by_idx = {r.insn_idx: r for r in p.relos if r.kind in (CALL, SUBPROG_ADDR)}
        for i, insn in enumerate(p.codes):
            is_func_ptr = is_ldimm64(insn) and insn.src == BPF_PSEUDO_FUNC
            if not (is_pseudo_call(insn) or is_func_ptr or i in relo_by_idx):
                continue
            r = relo_by_idx.get(i)
            if r is not None and r.kind == CALL:
                sec_idx, target = r.sym_sec_idx, r.sym_off // INSN_SZ + insn.imm + 1
            elif r is not None:
                sec_idx, target = r.sym_sec_idx, (r.sym_off + insn.imm) // INSN_SZ
            else:
                sec_idx, target = p.sec_idx, p.sec_insn_off + i + insn.imm + 1
            callee = _find_subprog(obj, sec_idx, target)
            if id(callee) not in placed:
                placed[id(callee)] = len(out)
                order.append((callee, len(out)))
                out.extend(callee.codes)
                todo.append(callee)
            dest = placed[id(callee)] + target - callee.sec_insn_off
            new = insn.replace(imm=s32(dest - (base + i) - 1))
            if is_ldimm64(insn):
                new = new.replace(src=BPF_PSEUDO_FUNC)
            out[base + i] = new
    return out, order


def poison_ldimm64(insns: list[Insn], at: int, map_idx: int) -> None:
    """Two identical invalid calls; the verifier says `invalid func unknown#2001000<idx>`."""
    call = Insn(BPF_JMP_CALL, 0, 0, 0, POISON_LDIMM64_MAP_BASE + map_idx)
    insns[at] = call
    insns[at + 1] = call


def apply_data_relocs(obj: "Object", insns: list[Insn], order: list[tuple["Program", int]]) -> list[int]:
    """Map fds and value offsets into the ld_imm64s; returns the indices poisoned."""
    poisoned = []
    for p, base in order:
        for r in p.relos:
            at = base + r.insn_idx
            if r.kind in (LD64, DATA):
                m = obj.maps[r.map_idx]
                if m.fd < 0:
                    poison_ldimm64(insns, at, r.map_idx)
                    poisoned.append(at)
                    continue
                if r.kind == LD64:
                    insns[at] = insns[at].replace(src=BPF_PSEUDO_MAP_FD, imm=m.fd)
                else:
                    addend = insns[at].imm
                    insns[at] = insns[at].replace(src=BPF_PSEUDO_MAP_VALUE, imm=m.fd)
                    insns[at + 1] = insns[at + 1].replace(imm=s32(addend + r.sym_off))
            elif r.kind in (EXTERN_LD64, EXTERN_CALL):
                obj.externs[r.ext_name].apply(obj, insns, at)
    return poisoned
