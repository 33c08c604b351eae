"""Assembler and printer for the BPF conformance suite's assembly syntax.

The syntax (see /work/shared/conformance/README.md) is the one the public conformance
suite writes its tests in: `add32 %r0, 1`, `ldxdw %r0, [%r1+8]`, `lock fetch add
[%r10-8], %r1`, `jne %r0, 15, label`, `call local func`, `call %r2` (callx).  Labels end
with ':'; a jump to `exit` without such a label goes to the first `exit` instruction (as the
suite's own assembler does).

The mnemonic table is generated from harness.isa.opcodes so that the assembler knows the
same instructions as everything else.  `format_asm` prints instructions back in this
syntax with numeric jump targets; `assemble(format_asm(p)) == p` for every program the
syntax can express.  Every error is an AsmError naming the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.errors import HarnessError
from harness.isa import opcodes as o
from harness.isa.insn import Insn, ld_imm64_value
from harness.isa.validate import check_insn


class AsmError(HarnessError):
    """Source text the assembler cannot translate (`line` is 1-based), or an instruction
    the printer cannot express (`line` is None; the message names the insn)."""

    def __init__(self, line: int | None, message: str, *, path: str | None = None):
        self.line = line
        self.reason = message
        super().__init__(f"line {line}: {message}" if line is not None else message, path=path)


@dataclass(frozen=True)
class _Form:
    kind: str        # alu, neg, end, movsx, lddw, ldx, st, stx, jcond, ja, call, exit
    code: int = 0
    off: int = 0
    imm: int = 0
    nops: int = 0    # operand count


def _mnemonics() -> dict[str, _Form]:
    t: dict[str, _Form] = {}
    for cl, sfx in ((o.BPF_ALU64, ""), (o.BPF_ALU, "32")):
        for opc, spec in o.ALU_OPS.items():
            if opc in (o.BPF_NEG, o.BPF_END):
                continue
            t[spec.name + sfx] = _Form("alu", cl | opc, nops=2)
            if spec.signed_name:
                t[spec.signed_name + sfx] = _Form("alu", cl | opc, off=1, nops=2)
        t["neg" + sfx] = _Form("neg", cl | o.BPF_NEG, nops=1)
        for bits in o.MOVSX_OFFS[cl]:
            t[f"movsx{bits}{'32' if cl == o.BPF_ALU else '64'}"] = _Form(
                "movsx", cl | o.BPF_MOV | o.BPF_X, off=bits, nops=2)
    for bits in (16, 32, 64):
        t[f"le{bits}"] = _Form("end", o.BPF_ALU | o.BPF_END | o.BPF_TO_LE, imm=bits, nops=1)
        t[f"be{bits}"] = _Form("end", o.BPF_ALU | o.BPF_END | o.BPF_TO_BE, imm=bits, nops=1)
        for name in ("bswap", "swap"):
            t[f"{name}{bits}"] = _Form("end", o.BPF_ALU64 | o.BPF_END, imm=bits, nops=1)
    t["lddw"] = _Form("lddw", o.LD_IMM64_CODE, nops=2)
    for sz, sfx in o.SIZE_SUFFIX.items():
        t["ldx" + sfx] = _Form("ldx", o.BPF_LDX | o.BPF_MEM | sz, nops=2)
        t["st" + sfx] = _Form("st", o.BPF_ST | o.BPF_MEM | sz, nops=2)
        t["stx" + sfx] = _Form("stx", o.BPF_STX | o.BPF_MEM | sz, nops=2)
        if sz != o.BPF_DW:
            t["ldxs" + sfx] = _Form("ldx", o.BPF_LDX | o.BPF_MEMSX | sz, nops=2)
    for cl, sfx in ((o.BPF_JMP, ""), (o.BPF_JMP32, "32")):
        for opc, spec in o.JMP_COND_OPS.items():
            t[spec.name + sfx] = _Form("jcond", cl | opc, nops=3)
    t["ja"] = _Form("ja", o.BPF_JMP | o.BPF_JA, nops=1)
    t["ja32"] = _Form("ja", o.BPF_JMP32 | o.BPF_JA, nops=1)
    t["exit"] = _Form("exit", o.BPF_JMP | o.BPF_EXIT, nops=0)
    return t


MNEMONICS = _mnemonics()
ATOMIC_BY_NAME = {(a.name, a.fetch or a.alu < 0): imm for imm, a in o.ATOMIC_OPS.items()}

_REG = re.compile(r"%r(\d+)$")
_MEM = re.compile(r"\[%r(\d+)(?:([+-])(0x[0-9a-fA-F]+|\d+))?\]$")
_NUM = re.compile(r"[+-]?(0x[0-9a-fA-F]+|\d+)$")
_LABEL = re.compile(r"[A-Za-z_.][\w.]*$")


class _Line:
    def __init__(self, lineno: int, path: str | None):
        self.lineno, self.path = lineno, path

    def err(self, msg: str) -> AsmError:
        return AsmError(self.lineno, msg, path=self.path)

    def number(self, tok: str, lo: int, hi: int, what: str) -> int:
        if not _NUM.match(tok):
            raise self.err(f"invalid {what} '{tok}'")
        value = int(tok, 0)
        if not lo <= value <= hi:
            raise self.err(f"{what} {tok} out of range")
        return value

    def imm32(self, tok: str) -> int:
        """Decimal immediates are signed 32-bit; hex ones may spell the unsigned bits."""
        hi = (1 << 32) - 1 if "0x" in tok.lower() else (1 << 31) - 1
        v = self.number(tok, -(1 << 31), hi, "immediate")
        return v - (1 << 32) if v >= 1 << 31 else v

    def reg(self, tok: str) -> int:
        m = _REG.match(tok)
        if not m or int(m.group(1)) >= o.MAX_BPF_REG:
            raise self.err(f"invalid register '{tok}'")
        return int(m.group(1))

    def mem(self, tok: str) -> tuple[int, int]:
        m = _MEM.match(tok)
        if not m:
            raise self.err(f"expected a memory operand [%rN+off], got '{tok}'")
        reg = self.reg(f"%r{m.group(1)}")
        if m.group(3) is None:
            return reg, 0
        off = self.number(m.group(3), 0, 1 << 15, "offset")
        off = -off if m.group(2) == "-" else off
        if off > 0x7FFF:
            raise self.err(f"offset {tok} out of range")
        return reg, off


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[\s,]+", text.split("#", 1)[0].strip()) if t]


def assemble(text: str, *, path: str | None = None, first_line: int = 1,
             callx: bool = True) -> list[Insn]:
    """Translate assembly text into instruction slots (ld_imm64 = 2 slots)."""
    out: list[Insn] = []
    labels: dict[str, int] = {}
    fixups: list[tuple[int, str, _Line]] = []   # (slot, label, line) to patch
    slot_line: list[int] = []                   # source line of each slot
    first_exit: int | None = None
    for n, raw in enumerate(text.replace("\r", "").split("\n")):
        ln = _Line(first_line + n, path)
        toks = _tokens(raw)
        while toks and toks[0].endswith(":"):
            name = toks.pop(0)[:-1]
            if not _LABEL.match(name):
                raise ln.err(f"invalid label '{name}'")
            if name in labels:
                raise ln.err(f"duplicate label '{name}'")
            labels[name] = len(out)
        if not toks:
            continue
        mnem, ops = toks[0], toks[1:]
        if mnem == "lock":
            out.append(_lock(ops, ln))
        elif mnem == "call":
            out.append(_call(ops, ln, len(out), fixups, callx))
        else:
            form = MNEMONICS.get(mnem)
            if form is None:
                raise ln.err(f"invalid mnemonic '{mnem}'")
            if len(ops) != form.nops:
                raise ln.err(f"'{mnem}' takes {form.nops} operand(s), got {len(ops)}")
            if form.kind == "exit" and first_exit is None:
                first_exit = len(out)
            out.extend(_encode(form, ops, ln, len(out), fixups))
        slot_line.extend([ln.lineno] * (len(out) - len(slot_line)))
    if not out:
        raise AsmError(first_line, "no instructions", path=path)
    if "exit" not in labels and first_exit is not None:
        labels["exit"] = first_exit
    for slot, label, ln in fixups:
        if label not in labels:
            raise ln.err(f"invalid label '{label}'")
        rel = labels[label] - slot - 1
        i = out[slot]
        if o.is_call(i) or i.code == o.BPF_JMP32 | o.BPF_JA:
            out[slot] = i.replace(imm=rel)
        else:
            if not -(1 << 15) <= rel < (1 << 15):
                raise ln.err(f"jump to '{label}' out of range")
            out[slot] = i.replace(off=rel)
    idx = 0
    while idx < len(out):       # the assembler only emits encodings the ISA accepts
        why = check_insn(out, idx, callx=callx)
        if why:
            raise AsmError(slot_line[idx], why, path=path)
        idx += 2 if o.is_ld_imm64(out[idx]) else 1
    return out


def _target(tok: str, ln: _Line, slot: int, fixups: list, *, wide: bool) -> int:
    if tok[:1] in "+-":
        bits = 31 if wide else 15
        return ln.number(tok, -(1 << bits), (1 << bits) - 1, "jump offset")
    if not _LABEL.match(tok):
        raise ln.err(f"invalid jump target '{tok}'")
    fixups.append((slot, tok, ln))
    return 0


def _encode(f: _Form, ops: list[str], ln: _Line, slot: int, fixups: list) -> list[Insn]:
    k = f.kind
    if k == "alu":
        dst = ln.reg(ops[0])
        if ops[1].startswith("%"):
            return [Insn(f.code | o.BPF_X, dst, ln.reg(ops[1]), f.off)]
        return [Insn(f.code, dst, 0, f.off, ln.imm32(ops[1]))]
    if k in ("neg", "end"):
        return [Insn(f.code, ln.reg(ops[0]), 0, 0, f.imm)]
    if k == "movsx":
        return [Insn(f.code, ln.reg(ops[0]), ln.reg(ops[1]), f.off)]
    if k == "lddw":
        v = ln.number(ops[1], -(1 << 63), (1 << 64) - 1, "immediate") & ((1 << 64) - 1)
        lo, hi = v & 0xFFFFFFFF, v >> 32
        s32 = lambda x: x - (1 << 32) if x >= 1 << 31 else x  # noqa: E731
        return [Insn(f.code, ln.reg(ops[0]), 0, 0, s32(lo)), Insn(0, 0, 0, 0, s32(hi))]
    if k == "ldx":
        src, off = ln.mem(ops[1])
        return [Insn(f.code, ln.reg(ops[0]), src, off)]
    if k == "st":
        dst, off = ln.mem(ops[0])
        return [Insn(f.code, dst, 0, off, ln.imm32(ops[1]))]
    if k == "stx":
        dst, off = ln.mem(ops[0])
        return [Insn(f.code, dst, ln.reg(ops[1]), off)]
    if k == "jcond":
        dst = ln.reg(ops[0])
        off = _target(ops[2], ln, slot, fixups, wide=False)
        if ops[1].startswith("%"):
            return [Insn(f.code | o.BPF_X, dst, ln.reg(ops[1]), off)]
        return [Insn(f.code, dst, 0, off, ln.imm32(ops[1]))]
    if k == "ja":
        wide = o.cls(f.code) == o.BPF_JMP32
        rel = _target(ops[0], ln, slot, fixups, wide=wide)
        return [Insn(f.code, imm=rel) if wide else Insn(f.code, off=rel)]
    return [Insn(f.code)]   # exit


def _call(ops: list[str], ln: _Line, slot: int, fixups: list, callx: bool) -> Insn:
    code = o.BPF_JMP | o.BPF_CALL
    if len(ops) == 2 and ops[0] == "local":
        return Insn(code, 0, o.BPF_PSEUDO_CALL, 0, _target(ops[1], ln, slot, fixups, wide=True))
    if len(ops) == 2 and ops[0] == "helper":
        ops = ops[1:]
    if len(ops) != 1:
        raise ln.err(f"'call' takes 1 operand, got {len(ops)}")
    if ops[0].startswith("%"):
        if not callx:
            raise ln.err("callx is not supported")
        return Insn(code | o.BPF_X, ln.reg(ops[0]))
    return Insn(code, 0, 0, 0, ln.imm32(ops[0]))


def _lock(ops: list[str], ln: _Line) -> Insn:
    fetch = bool(ops) and ops[0] == "fetch"
    rest = ops[1:] if fetch else ops
    if len(rest) != 3:
        raise ln.err("invalid number of operands for lock")
    name, width = rest[0], o.BPF_DW
    if name.endswith("32"):
        name, width = name[:-2], o.BPF_W
    implicit = name in ("xchg", "cmpxchg")
    imm = ATOMIC_BY_NAME.get((name, fetch or implicit))
    if imm is None or (fetch and implicit):
        raise ln.err(f"invalid atomic operation '{' '.join(ops[:2])}'")
    dst, off = ln.mem(rest[1])
    return Insn(o.BPF_STX | o.BPF_ATOMIC | width, dst, ln.reg(rest[2]), off, imm)


# --- printing -----------------------------------------------------------------------------
_ALU_NAME = {o.op(f.code) | (f.off << 8) | o.cls(f.code): m
             for m, f in MNEMONICS.items() if f.kind == "alu"}
_BY_CODE = {(f.code, f.off, f.imm): m for m, f in MNEMONICS.items()
            if f.kind in ("neg", "end", "movsx", "ldx", "st", "stx", "jcond", "ja", "exit")
            and not m.startswith("swap")}


def _m(reg: int, off: int) -> str:
    return f"[%r{reg}{off:+d}]"


def format_insn(insns: list[Insn], idx: int) -> str:
    """One instruction in conformance syntax; raises AsmError(idx) if not expressible."""
    i = insns[idx]
    c, cl = i.code, o.cls(i.code)
    why = check_insn(insns, idx, callx=True)
    if why:
        raise AsmError(None, f"cannot print insn {idx}: {why}")
    if o.is_ld_imm64(i) and i.src == 0:
        return f"lddw %r{i.dst}, {ld_imm64_value(i, insns[idx + 1]):#x}"
    if o.is_callx(i):
        return f"call %r{i.dst or i.imm}"
    if o.is_pseudo_call(i):
        return f"call local {i.imm:+d}"
    if o.is_helper_call(i):
        return f"call {i.imm}"
    if cl in (o.BPF_ALU, o.BPF_ALU64) and o.op(c) not in (o.BPF_NEG, o.BPF_END) and not o.is_movsx(i):
        name = _ALU_NAME.get(o.op(c) | (i.off << 8) | cl) if i.off in (0, 1) else None
        if name:
            rhs = f"%r{i.src}" if o.src_bit(c) else str(i.imm)
            return f"{name} %r{i.dst}, {rhs}"
    elif o.is_atomic(i) and i.imm in o.ATOMIC_OPS:
        a = o.ATOMIC_OPS[i.imm]
        fetch = "fetch " if a.fetch and a.alu >= 0 else ""
        width = "32" if o.size(c) == o.BPF_W else ""
        return f"lock {fetch}{a.name}{width} {_m(i.dst, i.off)}, %r{i.src}"
    else:
        key = (c & ~o.BPF_X if o.is_cond_jump(i) else c,
               i.off if o.is_movsx(i) else 0, i.imm if o.op(c) == o.BPF_END and o.is_alu(i) else 0)
        name = _BY_CODE.get(key)
        if name:
            if o.is_cond_jump(i):
                rhs = f"%r{i.src}" if o.src_bit(c) else str(i.imm)
                return f"{name} %r{i.dst}, {rhs}, {i.off:+d}"
            if o.is_ja(i):
                return f"{name} {o.jump_offset(i):+d}"
            kind = MNEMONICS[name].kind
            if kind == "ldx":
                return f"{name} %r{i.dst}, {_m(i.src, i.off)}"
            if kind == "st":
                return f"{name} {_m(i.dst, i.off)}, {i.imm}"
            if kind == "stx":
                return f"{name} {_m(i.dst, i.off)}, %r{i.src}"
            if kind == "movsx":
                return f"{name} %r{i.dst}, %r{i.src}"
            if kind in ("neg", "end"):
                return f"{name} %r{i.dst}"
            return name
    raise AsmError(None, f"insn {idx} (code 0x{c:02x}) has no conformance-syntax form")


def format_asm(insns: list[Insn]) -> str:
    lines, idx = [], 0
    while idx < len(insns):
        lines.append(format_insn(insns, idx))
        idx += 2 if o.is_ld_imm64(insns[idx]) else 1
    return "\n".join(lines) + "\n"
