"""Disassembly in the kernel's verifier-log syntax (the formats of kernel/bpf/disasm.c).

A BPF developer reads our verifier logs and xlated dumps next to real ones, so each line
must look exactly like the kernel's: `(07) r1 += 8`, `(61) r0 = *(u32 *)(r1 +0)`,
`(85) call bpf_map_lookup_elem#1`, `(15) if r1 == 0x0 goto pc+2`.  Helper names come from a
callback (`helper_name(imm) -> str | None`) so that the kernel's helper table names them
without this module depending on it; ld_imm64 immediates can be rendered by `imm_fmt`
(e.g. `map[id:3]`), otherwise they print as hex like the kernel does; kfunc calls are
named by `kfunc_name(insn)` (the kernel looks the BTF id up), else `unknown`.
"""

from __future__ import annotations

from typing import Callable

from harness.isa import opcodes as o
from harness.isa.insn import Insn, ld_imm64_value

HelperName = Callable[[int], "str | None"]
KfuncName = Callable[[Insn], "str | None"]
ImmFormat = Callable[[Insn, int], "str | None"]


def _r(cl: int) -> str:
    return "w" if cl in (o.BPF_ALU, o.BPF_JMP32) else "r"


def _mem(sz: int, reg: int, off: int, stype: bool = False) -> str:
    t = (o.SIZE_STYPE if stype else o.SIZE_TYPE)[sz]
    return f"*({t} *)(r{reg} {off:+d})"


def _alu(i: Insn) -> str:
    cl, opc, c = o.cls(i.code), o.op(i.code), i.code
    w = _r(cl)
    if opc == o.BPF_END:
        if cl == o.BPF_ALU64:
            return f"({c:02x}) r{i.dst} = bswap{i.imm} r{i.dst}"
        order = "be" if o.src_bit(c) == o.BPF_TO_BE else "le"
        return f"({c:02x}) r{i.dst} = {order}{i.imm} r{i.dst}"
    if opc == o.BPF_NEG:
        return f"({c:02x}) {w}{i.dst} = -{w}{i.dst}"
    if o.is_addr_space_cast(i):
        return f"({c:02x}) r{i.dst} = addr_space_cast(r{i.src}, {i.imm >> 16}, {i.imm & 0xffff})"
    if o.is_mov_percpu(i):
        return f"({c:02x}) r{i.dst} = &(void __percpu *)(r{i.src})"
    spec = o.ALU_OPS.get(opc)
    if spec is None:
        return f"({c:02x}) BUG_alu_{c:02x}"
    sym = spec.signed_symbol if o.is_sdiv_smod(i) else spec.symbol
    if o.src_bit(c) == o.BPF_X:
        sx = f"(s{i.off})" if o.is_movsx(i) else ""
        return f"({c:02x}) {w}{i.dst} {sym} {sx}{w}{i.src}"
    return f"({c:02x}) {w}{i.dst} {sym} {i.imm}"


def _atomic(i: Insn) -> str:
    c, sz = i.code, o.size(i.code)
    t = o.SIZE_TYPE.get(sz, "?")
    where = f"({t} *)(r{i.dst} {i.off:+d})"
    width = "64" if sz == o.BPF_DW else ""
    if i.imm == o.BPF_LOAD_ACQ:
        return f"({c:02x}) r{i.src} = load_acquire({where})"
    if i.imm == o.BPF_STORE_REL:
        return f"({c:02x}) store_release({where}, r{i.src})"
    spec = o.ATOMIC_OPS.get(i.imm)
    if spec is None:
        return f"({c:02x}) BUG_{c:02x}"
    if spec.name == "cmpxchg":
        return f"({c:02x}) r0 = atomic{width}_cmpxchg({where}, r0, r{i.src})"
    if spec.name == "xchg":
        return f"({c:02x}) r{i.src} = atomic{width}_xchg({where}, r{i.src})"
    if spec.fetch:
        return f"({c:02x}) r{i.src} = atomic{width}_fetch_{spec.name}({where}, r{i.src})"
    return f"({c:02x}) lock *({t} *)(r{i.dst} {i.off:+d}) {o.ALU_OPS[spec.alu].symbol} r{i.src}"


def _jmp(i: Insn, helper_name: HelperName | None, kfunc_name: KfuncName | None = None) -> str:
    cl, opc, c = o.cls(i.code), o.op(i.code), i.code
    if opc == o.BPF_CALL and cl == o.BPF_JMP:
        if o.src_bit(c) == o.BPF_X:
            return f"({c:02x}) callx r{i.dst or i.imm}"
        if i.src == o.BPF_PSEUDO_CALL:
            return f"({c:02x}) call pc{i.imm:+d}"
        if i.src == 0:
            name = helper_name(i.imm) if helper_name else None
        else:       # kfunc: the verifier names it from the kfunc's BTF
            name = kfunc_name(i) if kfunc_name else None
        name = name or "unknown"
        return f"({c:02x}) call {name}#{i.imm}"
    if opc == o.BPF_EXIT and cl == o.BPF_JMP:
        return f"({c:02x}) exit"
    if opc == o.BPF_JA:
        if cl == o.BPF_JMP32:
            return f"({c:02x}) gotol pc{i.imm:+d}"
        return f"({c:02x}) goto pc{i.off:+d}"
    if opc == o.BPF_JCOND:
        return f"({c:02x}) may_goto pc{i.off:+d}"
    spec = o.JMP_COND_OPS.get(opc)
    if spec is None:
        return f"({c:02x}) BUG_jmp_{c:02x}"
    w = _r(cl)
    rhs = f"{w}{i.src}" if o.src_bit(c) == o.BPF_X else f"0x{i.imm & 0xffffffff:x}"
    return f"({c:02x}) if {w}{i.dst} {spec.symbol} {rhs} goto pc{i.off:+d}"


def disasm_insn(insns: list[Insn], idx: int, *, helper_name: HelperName | None = None,
                imm_fmt: ImmFormat | None = None, kfunc_name: KfuncName | None = None) -> str:
    """One instruction (both slots of an ld_imm64 when idx is its first slot)."""
    i = insns[idx]
    cl, c = o.cls(i.code), i.code
    if cl in (o.BPF_ALU, o.BPF_ALU64):
        return _alu(i)
    if cl in (o.BPF_JMP, o.BPF_JMP32):
        return _jmp(i, helper_name, kfunc_name)
    if cl == o.BPF_LDX:
        sx = o.mode(c) == o.BPF_MEMSX
        return f"({c:02x}) r{i.dst} = {_mem(o.size(c), i.src, i.off, sx)}"
    if cl == o.BPF_ST:
        if o.mode(c) == o.BPF_MEM:
            return f"({c:02x}) {_mem(o.size(c), i.dst, i.off)} = {i.imm}"
        return f"({c:02x}) BUG_st_{c:02x}"
    if cl == o.BPF_STX:
        if o.mode(c) == o.BPF_ATOMIC:
            return _atomic(i)
        if o.mode(c) == o.BPF_MEM:
            return f"({c:02x}) {_mem(o.size(c), i.dst, i.off)} = r{i.src}"
        return f"({c:02x}) BUG_stx_{c:02x}"
    # BPF_LD
    md, t = o.mode(c), o.SIZE_TYPE.get(o.size(c), "?")
    if md == o.BPF_ABS:
        return f"({c:02x}) r0 = *({t} *)skb[{i.imm}]"
    if md == o.BPF_IND:
        return f"({c:02x}) r0 = *({t} *)skb[r{i.src} + {i.imm}]"
    if c == o.LD_IMM64_CODE and idx + 1 < len(insns):
        value = ld_imm64_value(i, insns[idx + 1])
        text = imm_fmt(i, value) if imm_fmt else None
        return f"({c:02x}) r{i.dst} = {text if text is not None else f'0x{value:x}'}"
    return f"({c:02x}) BUG_ld_{c:02x}"


def disasm(insns: list[Insn], *, helper_name: HelperName | None = None,
           imm_fmt: ImmFormat | None = None, kfunc_name: KfuncName | None = None,
           indices: bool = True) -> list[str]:
    """The whole program, one line per instruction (`N: (code) ...` like a log dump)."""
    out, idx = [], 0
    while idx < len(insns):
        text = disasm_insn(insns, idx, helper_name=helper_name, imm_fmt=imm_fmt, kfunc_name=kfunc_name)
        out.append(f"{idx}: {text}" if indices else text)
        idx += 2 if o.is_ld_imm64(insns[idx]) else 1
    return out
