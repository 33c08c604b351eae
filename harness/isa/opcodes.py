"""The BPF opcode byte as data: classes, ALU/JMP operations, sizes, modes, atomic ops.

An opcode byte is read differently depending on its class (the low three bits)::

    ALU / ALU64 / JMP / JMP32              LD / LDX / ST / STX
    +-----------+--------+---------+       +----------+--------+---------+
    | op:4      | src:1  | class:3 |       | mode:3   | size:2 | class:3 |
    +-----------+--------+---------+       +----------+--------+---------+
     bits 7..4    bit 3    bits 2..0        bits 7..5  bits 4..3 bits 2..0

`src` (BPF_K = 0 / BPF_X = 8) selects the immediate or the src register as the second
operand; for BPF_END it selects the byte order (BPF_TO_LE / BPF_TO_BE) instead.  Several
instructions reuse the `off` field as an opcode extension (RFC 9669): sdiv/smod (off 1),
movsx (off 8/16/32), the kernel-internal percpu mov (off -1) and addr_space_cast (off 1).
Atomic operations are STX | ATOMIC with the operation in `imm`.

Everything here is a table or a one-line predicate so that the assembler, the
disassembler, the verifier and the VM translate the same facts, never their own copies.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.isa.insn import Insn

# --- classes (bits 2..0) -----------------------------------------------------------------
BPF_LD = 0x00     # wide loads: ld_imm64 (and legacy packet ABS/IND loads)
BPF_LDX = 0x01    # load from memory into a register
BPF_ST = 0x02     # store an immediate to memory
BPF_STX = 0x03    # store a register to memory; atomics (mode ATOMIC)
BPF_ALU = 0x04    # 32-bit arithmetic, result zero-extended
BPF_JMP = 0x05    # 64-bit comparisons, call, exit
BPF_JMP32 = 0x06  # 32-bit comparisons (v3); gotol (v4)
BPF_ALU64 = 0x07  # 64-bit arithmetic

CLASS_NAMES = {BPF_LD: "ld", BPF_LDX: "ldx", BPF_ST: "st", BPF_STX: "stx",
               BPF_ALU: "alu", BPF_JMP: "jmp", BPF_JMP32: "jmp32", BPF_ALU64: "alu64"}

# --- source bit (bit 3) ----------------------------------------------------------------
BPF_K = 0x00      # operand is imm
BPF_X = 0x08      # operand is src register
BPF_TO_LE = 0x00  # BPF_END: convert to little endian
BPF_TO_BE = 0x08  # BPF_END: convert to big endian

# --- ALU operations (bits 7..4) ----------------------------------------------------------
BPF_ADD, BPF_SUB, BPF_MUL, BPF_DIV = 0x00, 0x10, 0x20, 0x30
BPF_OR, BPF_AND, BPF_LSH, BPF_RSH = 0x40, 0x50, 0x60, 0x70
BPF_NEG, BPF_MOD, BPF_XOR, BPF_MOV = 0x80, 0x90, 0xA0, 0xB0
BPF_ARSH, BPF_END = 0xC0, 0xD0


@dataclass(frozen=True)
class AluOp:
    name: str        # conformance-suite mnemonic stem
    symbol: str      # kernel disassembler operator (bpf_alu_string)
    signed_symbol: str = ""   # operator when off == 1 (sdiv / smod)
    signed_name: str = ""


ALU_OPS: dict[int, AluOp] = {
    BPF_ADD: AluOp("add", "+="), BPF_SUB: AluOp("sub", "-="), BPF_MUL: AluOp("mul", "*="),
    BPF_DIV: AluOp("div", "/=", "s/=", "sdiv"), BPF_OR: AluOp("or", "|="),
    BPF_AND: AluOp("and", "&="), BPF_LSH: AluOp("lsh", "<<="), BPF_RSH: AluOp("rsh", ">>="),
    BPF_NEG: AluOp("neg", "neg"), BPF_MOD: AluOp("mod", "%=", "s%=", "smod"),
    BPF_XOR: AluOp("xor", "^="), BPF_MOV: AluOp("mov", "="), BPF_ARSH: AluOp("arsh", "s>>="),
    BPF_END: AluOp("end", "endian"),
}

# --- JMP operations (bits 7..4) ----------------------------------------------------------
BPF_JA, BPF_JEQ, BPF_JGT, BPF_JGE = 0x00, 0x10, 0x20, 0x30
BPF_JSET, BPF_JNE, BPF_JSGT, BPF_JSGE = 0x40, 0x50, 0x60, 0x70
BPF_CALL, BPF_EXIT = 0x80, 0x90
BPF_JLT, BPF_JLE, BPF_JSLT, BPF_JSLE = 0xA0, 0xB0, 0xC0, 0xD0   # v2
BPF_JCOND = 0xE0   # may_goto (kernel 6.9)


@dataclass(frozen=True)
class JmpOp:
    name: str       # conformance-suite mnemonic
    symbol: str     # kernel disassembler operator (bpf_jmp_string)
    signed: bool    # compares as signed integers
    pyop: str       # Python comparison used by the VM translator ("&" = test bits)


JMP_COND_OPS: dict[int, JmpOp] = {
    BPF_JEQ: JmpOp("jeq", "==", False, "=="), BPF_JGT: JmpOp("jgt", ">", False, ">"),
    BPF_JGE: JmpOp("jge", ">=", False, ">="), BPF_JSET: JmpOp("jset", "&", False, "&"),
    BPF_JNE: JmpOp("jne", "!=", False, "!="), BPF_JSGT: JmpOp("jsgt", "s>", True, ">"),
    BPF_JSGE: JmpOp("jsge", "s>=", True, ">="), BPF_JLT: JmpOp("jlt", "<", False, "<"),
    BPF_JLE: JmpOp("jle", "<=", False, "<="), BPF_JSLT: JmpOp("jslt", "s<", True, "<"),
    BPF_JSLE: JmpOp("jsle", "s<=", True, "<="),
}

# --- sizes (bits 4..3) and modes (bits 7..5) for load/store classes ----------------------
BPF_W, BPF_H, BPF_B, BPF_DW = 0x00, 0x08, 0x10, 0x18
SIZE_BYTES = {BPF_W: 4, BPF_H: 2, BPF_B: 1, BPF_DW: 8}
SIZE_SUFFIX = {BPF_W: "w", BPF_H: "h", BPF_B: "b", BPF_DW: "dw"}      # conformance mnemonics
SIZE_TYPE = {BPF_W: "u32", BPF_H: "u16", BPF_B: "u8", BPF_DW: "u64"}  # bpf_ldst_string
SIZE_STYPE = {BPF_W: "s32", BPF_H: "s16", BPF_B: "s8"}                 # bpf_ldsx_string

BPF_IMM, BPF_ABS, BPF_IND, BPF_MEM = 0x00, 0x20, 0x40, 0x60
BPF_MEMSX = 0x80     # sign-extending load (v4)
BPF_ATOMIC = 0xC0    # STX only; the operation is in imm (v3)

# --- atomic operations (imm of STX | ATOMIC) ---------------------------------------------
BPF_FETCH = 0x01
BPF_XCHG = 0xE0 | BPF_FETCH
BPF_CMPXCHG = 0xF0 | BPF_FETCH
BPF_LOAD_ACQ = 0x100
BPF_STORE_REL = 0x110


@dataclass(frozen=True)
class AtomicOp:
    name: str       # conformance mnemonic after "lock" ("add", "xchg", ...)
    alu: int        # ALU operation combined with the old value (-1: none)
    fetch: bool     # old value returned to src (r0 for cmpxchg)


ATOMIC_OPS: dict[int, AtomicOp] = {
    BPF_ADD: AtomicOp("add", BPF_ADD, False), BPF_ADD | BPF_FETCH: AtomicOp("add", BPF_ADD, True),
    BPF_AND: AtomicOp("and", BPF_AND, False), BPF_AND | BPF_FETCH: AtomicOp("and", BPF_AND, True),
    BPF_OR: AtomicOp("or", BPF_OR, False), BPF_OR | BPF_FETCH: AtomicOp("or", BPF_OR, True),
    BPF_XOR: AtomicOp("xor", BPF_XOR, False), BPF_XOR | BPF_FETCH: AtomicOp("xor", BPF_XOR, True),
    BPF_XCHG: AtomicOp("xchg", -1, True), BPF_CMPXCHG: AtomicOp("cmpxchg", -1, True),
}

# --- special values of other fields ------------------------------------------------------
BPF_PSEUDO_CALL = 1          # call src: bpf-to-bpf call, imm = pc-relative target
BPF_PSEUDO_KFUNC_CALL = 2    # call src: kernel function by BTF id
BPF_ADDR_SPACE_CAST = 1      # ALU64 MOV X off: arena address cast
BPF_ADDR_PERCPU = -1         # ALU64 MOV X off: kernel-internal per-CPU address mov
MOVSX_OFFS = {BPF_ALU: (8, 16), BPF_ALU64: (8, 16, 32)}
LD_IMM64_CODE = BPF_LD | BPF_IMM | BPF_DW      # 0x18
MAX_BPF_REG = 11             # r0..r10; r10 is the read-only frame pointer
PSEUDO_LD_IMM64_MAX = 6      # src of ld_imm64: 0 plain, 1 map fd, ... 6 map idx value


def cls(code: int) -> int:
    return code & 0x07


def op(code: int) -> int:
    return code & 0xF0


def src_bit(code: int) -> int:
    return code & 0x08


def size(code: int) -> int:
    return code & 0x18


def mode(code: int) -> int:
    return code & 0xE0


# --- predicates (on one slot) ------------------------------------------------------------
def is_alu(i: Insn) -> bool:
    return cls(i.code) in (BPF_ALU, BPF_ALU64)


def is_ld_imm64(i: Insn) -> bool:
    return i.code == LD_IMM64_CODE


def is_jmp_class(i: Insn) -> bool:
    return cls(i.code) in (BPF_JMP, BPF_JMP32)


def is_call(i: Insn) -> bool:
    """Any call: helper, bpf-to-bpf, kfunc or callx."""
    return cls(i.code) == BPF_JMP and op(i.code) == BPF_CALL


def is_callx(i: Insn) -> bool:
    return i.code == BPF_JMP | BPF_CALL | BPF_X


def is_helper_call(i: Insn) -> bool:
    return i.code == BPF_JMP | BPF_CALL and i.src == 0


def is_pseudo_call(i: Insn) -> bool:
    return i.code == BPF_JMP | BPF_CALL and i.src == BPF_PSEUDO_CALL


def is_kfunc_call(i: Insn) -> bool:
    return i.code == BPF_JMP | BPF_CALL and i.src == BPF_PSEUDO_KFUNC_CALL


def is_exit(i: Insn) -> bool:
    return i.code == BPF_JMP | BPF_EXIT


def is_ja(i: Insn) -> bool:
    """goto (JMP, target in off) or gotol (JMP32, target in imm)."""
    return i.code in (BPF_JMP | BPF_JA, BPF_JMP32 | BPF_JA)


def is_cond_jump(i: Insn) -> bool:
    return is_jmp_class(i) and op(i.code) in JMP_COND_OPS


def is_may_goto(i: Insn) -> bool:
    return i.code == BPF_JMP | BPF_JCOND


def is_jump(i: Insn) -> bool:
    """Transfers control inside the function: goto, gotol, conditional jumps, may_goto."""
    return is_ja(i) or is_cond_jump(i) or is_may_goto(i)


def jump_offset(i: Insn) -> int:
    """Slot-relative target of a jump (gotol keeps it in imm)."""
    return i.imm if i.code == BPF_JMP32 | BPF_JA else i.off


def is_load(i: Insn) -> bool:
    return cls(i.code) == BPF_LDX


def is_store(i: Insn) -> bool:
    return cls(i.code) in (BPF_ST, BPF_STX) and mode(i.code) == BPF_MEM


def is_atomic(i: Insn) -> bool:
    return cls(i.code) == BPF_STX and mode(i.code) == BPF_ATOMIC


def is_movsx(i: Insn) -> bool:
    return is_alu(i) and i.code & 0xF8 == BPF_MOV | BPF_X and i.off in (8, 16, 32)


def is_sdiv_smod(i: Insn) -> bool:
    return is_alu(i) and op(i.code) in (BPF_DIV, BPF_MOD) and i.off == 1


def is_mov_percpu(i: Insn) -> bool:
    return i.code == BPF_ALU64 | BPF_MOV | BPF_X and i.off == BPF_ADDR_PERCPU


def is_addr_space_cast(i: Insn) -> bool:
    return i.code == BPF_ALU64 | BPF_MOV | BPF_X and i.off == BPF_ADDR_SPACE_CAST


def ends_block(i: Insn) -> bool:
    """Control does not simply fall through to the next slot."""
    return is_jump(i) or is_exit(i)
