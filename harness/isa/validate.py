"""Encoding checks: known opcodes, valid registers, reserved fields zero (RFC 9669 §3).

RFC 9669 requires every field an instruction does not use to be zero; the kernel enforces
it while verifying, with messages such as "BPF_ALU uses reserved fields".  The checks live
here, once, so the assembler, the decoder of test data, the verifier and the VM reject the
same encodings with the same (kernel) wording.  `check_insn` returns the message or None;
`validate` raises InsnValidationError naming the slot index.

Options: `callx` admits JMP|CALL|X (0x8d; the conformance suite's callx group, which the
kernel does not support); `internal` admits kernel-internal encodings that appear only in
xlated programs (the percpu mov, off = -1).
"""

from __future__ import annotations

from harness.isa import opcodes as o
from harness.isa.insn import Insn, InsnFormatError


class InsnValidationError(InsnFormatError):
    """An instruction whose encoding is invalid.  `index` is its slot index."""

    def __init__(self, index: int, message: str, *, path: str | None = None):
        self.index = index
        self.reason = message
        super().__init__(f"insn {index}: {message}", path=path)


def _alu(i: Insn, *, internal: bool) -> str | None:
    code, opc, cl = i.code, o.op(i.code), o.cls(i.code)
    x = o.src_bit(code) == o.BPF_X
    if opc not in o.ALU_OPS:
        return f"invalid BPF_ALU opcode {opc:x}"
    if opc == o.BPF_NEG:
        if x or i.src or i.off or i.imm:
            return "BPF_NEG uses reserved fields"
        return None
    if opc == o.BPF_END:
        if i.src or i.off or i.imm not in (16, 32, 64) or (x and cl == o.BPF_ALU64):
            return "BPF_END uses reserved fields"
        return None
    if opc == o.BPF_MOV:
        if not x:
            return "BPF_MOV uses reserved fields" if i.src or i.off else None
        if cl == o.BPF_ALU64 and i.off == o.BPF_ADDR_SPACE_CAST:
            if i.imm not in (1, 1 << 16):
                return "addr_space_cast insn can only convert between address space 1 and 0"
            return None
        if internal and cl == o.BPF_ALU64 and i.off == o.BPF_ADDR_PERCPU and not i.imm:
            return None
        if (i.off and i.off not in o.MOVSX_OFFS[cl]) or i.imm:
            return "BPF_MOV uses reserved fields"
        return None
    signed_ok = opc in (o.BPF_DIV, o.BPF_MOD)
    if i.off not in (0, 1) or (i.off == 1 and not signed_ok):
        return "BPF_ALU uses reserved fields"
    if (x and i.imm) or (not x and i.src):
        return "BPF_ALU uses reserved fields"
    return None


def _jmp(i: Insn, *, callx: bool) -> str | None:
    code, opc, cl = i.code, o.op(i.code), o.cls(i.code)
    x = o.src_bit(code) == o.BPF_X
    if opc == o.BPF_JA:
        if x or i.src or i.dst or (cl == o.BPF_JMP and i.imm) or (cl == o.BPF_JMP32 and i.off):
            return "BPF_JA uses reserved fields"
        return None
    if opc == o.BPF_CALL:
        if cl == o.BPF_JMP and x and callx:
            return "BPF_CALL uses reserved fields" if i.src or i.off or (i.imm and i.dst) else None
        if (x or cl == o.BPF_JMP32 or i.dst
                or (i.src != o.BPF_PSEUDO_KFUNC_CALL and i.off)
                or i.src not in (0, o.BPF_PSEUDO_CALL, o.BPF_PSEUDO_KFUNC_CALL)):
            return "BPF_CALL uses reserved fields"
        return None
    if opc == o.BPF_EXIT:
        # The kernel does not check off here; RFC 9669 requires it to be zero too.
        if x or i.imm or i.src or i.dst or i.off or cl == o.BPF_JMP32:
            return "BPF_EXIT uses reserved fields"
        return None
    if opc == o.BPF_JCOND:
        if cl != o.BPF_JMP or x or i.src or i.dst or i.imm:
            return f"invalid may_goto imm {i.imm}"
        return None
    if opc not in o.JMP_COND_OPS:
        return f"invalid BPF_JMP/JMP32 opcode {opc:x}"
    if (x and i.imm) or (not x and i.src):
        return "BPF_JMP/JMP32 uses reserved fields"
    return None


def _ldst(i: Insn) -> str | None:
    cl, md, sz = o.cls(i.code), o.mode(i.code), o.size(i.code)
    if cl == o.BPF_LDX:
        if md not in (o.BPF_MEM, o.BPF_MEMSX) or i.imm or (md == o.BPF_MEMSX and sz == o.BPF_DW):
            return "BPF_LDX uses reserved fields"
        return None
    if cl == o.BPF_ST:
        if md != o.BPF_MEM or i.src:
            return "BPF_ST uses reserved fields"
        return None
    if md == o.BPF_ATOMIC:
        if i.imm in (o.BPF_LOAD_ACQ, o.BPF_STORE_REL):
            return None
        if i.imm not in o.ATOMIC_OPS:
            return f"BPF_ATOMIC uses invalid atomic opcode {i.imm & 0xffffffff:02x}"
        if sz not in (o.BPF_W, o.BPF_DW):
            return "invalid atomic operand size"
        return None
    if md != o.BPF_MEM or i.imm:
        return "BPF_STX uses reserved fields"
    return None


def _ld(insns: list[Insn], idx: int) -> str | None:
    i = insns[idx]
    md = o.mode(i.code)
    if md in (o.BPF_ABS, o.BPF_IND):
        if i.dst or i.off or o.size(i.code) == o.BPF_DW or (md == o.BPF_ABS and i.src):
            return "BPF_LD_[ABS|IND] uses reserved fields"
        return None
    if i.code != o.LD_IMM64_CODE:
        return "invalid BPF_LD_IMM insn"
    if i.off:
        return "BPF_LD_IMM64 uses reserved fields"
    if i.src > o.PSEUDO_LD_IMM64_MAX:
        return "unrecognized bpf_ld_imm64 insn"
    if idx + 1 >= len(insns):
        return "invalid bpf_ld_imm64 insn"
    nxt = insns[idx + 1]
    if nxt.code or nxt.dst or nxt.src or nxt.off:
        return "invalid bpf_ld_imm64 insn"
    return None


def check_insn(insns: list[Insn], idx: int, *, callx: bool = False,
               internal: bool = False) -> str | None:
    """The kernel-worded reason slot `idx` is malformed, or None.  Second slots of
    ld_imm64 are checked together with their first slot; do not pass their index."""
    i = insns[idx]
    cl = o.cls(i.code)
    if cl == o.BPF_LD:
        why = _ld(insns, idx)
    elif cl in (o.BPF_ALU, o.BPF_ALU64):
        why = _alu(i, internal=internal)
    elif cl in (o.BPF_JMP, o.BPF_JMP32):
        why = _jmp(i, callx=callx)
    else:
        why = _ldst(i)
    if why:
        return why
    regs = [i.dst] if cl == o.BPF_LD else [i.dst, i.src]
    for r in regs:
        if r >= o.MAX_BPF_REG:
            return f"R{r} is invalid"
    return None


def validate(insns: list[Insn], *, callx: bool = False, internal: bool = False,
             path: str | None = None) -> None:
    """Raise InsnValidationError for the first malformed slot of a program."""
    if not insns:
        raise InsnValidationError(0, "empty program", path=path)
    idx = 0
    while idx < len(insns):
        why = check_insn(insns, idx, callx=callx, internal=internal)
        if why:
            raise InsnValidationError(idx, why, path=path)
        idx += 2 if o.is_ld_imm64(insns[idx]) else 1
