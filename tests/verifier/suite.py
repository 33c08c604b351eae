"""The verifier's conformance suite: small programs, each with the kernel's verdict.

One row per program: name, assembler text (or raw slots for encodings the assembler
refuses), expected outcome (`ok`, or `ERRNO: first error line`) and options (program type,
privilege, maps, optionally with BTF-described values).  Messages are the kernel's
(kernel/bpf/verifier.c wording).  Every case with `real=True` is also replayed on the running
kernel by test_verifier_realkernel.py when bpf(2) is permitted (CAP_BPF-only cases under
setpriv), which also prints the overall agreement (bench/verifier_agreement.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.isa import Insn
from harness.uapi import BPF_F_RDONLY_PROG, MapType, ProgType
from tests.verifier.vutil import MapSpec

ARR = MapSpec(MapType.ARRAY, 4, 8)
ARR48 = MapSpec(MapType.ARRAY, 4, 48)
HASH = MapSpec(MapType.HASH, 4, 8, 16)
RB = MapSpec(MapType.RINGBUF, 0, 0, 4096)
PCPU = MapSpec(MapType.PERCPU_ARRAY, 4, 16)
PROGS = MapSpec(MapType.PROG_ARRAY, 4, 4, 4)
RO = MapSpec(MapType.ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, init=(7).to_bytes(8, "little"), freeze=True)
RO_UNFROZEN = MapSpec(MapType.ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, init=(7).to_bytes(8, "little"))
RO_STR = MapSpec(MapType.ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, init=b"abc\0\0\0\0\0", freeze=True)
RO_NOSTR = MapSpec(MapType.ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, init=b"abcdefgh", freeze=True)
PCPU_RO = MapSpec(MapType.PERCPU_ARRAY, 4, 8, 1, BPF_F_RDONLY_PROG, freeze=True)

SF, XDP, TC, KPROBE, RAWTP, CGSKB, TP = (ProgType.SOCKET_FILTER, ProgType.XDP, ProgType.SCHED_CLS,
                                         ProgType.KPROBE, ProgType.RAW_TRACEPOINT,
                                         ProgType.CGROUP_SKB, ProgType.TRACEPOINT)


@dataclass
class Case:
    name: str
    text: str | None
    expect: str
    prog_type: int = SF
    privileged: bool = True
    maps: dict = field(default_factory=dict)
    raw: list | None = None
    license: str = "GPL"
    flags: int = 0
    log_level: int = 1      # 0 for programs whose failing-path log would not fit
    func_info: list = field(default_factory=list)   # (insn_off, type_id) records
    real: bool = True       # False: the running kernel lacks a feature the case needs
    pipeline_diff: str = "" # known difference of the emulated prog_load pipeline (not the verifier)

    @property
    def ok(self) -> bool:
        return self.expect == "ok"

    @property
    def errno(self) -> str:
        return self.expect.split(":", 1)[0]

    @property
    def message(self) -> str:
        return self.expect.split(": ", 1)[1]


LOOKUP = """
    stw [%r10-4], 0
    mov %r2, %r10
    add %r2, -4
    lddw %r1, map:m
    call 1
"""
LOOKUP_NN = LOOKUP + "    jeq %r0, 0, out\n"
OUT = "out:\n    mov %r0, 0\n    exit\n"
RESERVE = """
    lddw %r1, map:rb
    mov %r2, 8
    mov %r3, 0
    call 131
"""
CASES: list[Case] = []


def case(name, text, expect, **kw):
    CASES.append(Case(name, text, expect, **kw))


def raw(name, insns, expect, **kw):
    CASES.append(Case(name, None, expect, raw=insns, **kw))


def I(code, dst=0, src=0, off=0, imm=0):
    return Insn(code, dst, src, off, imm)


EXIT = I(0x95)
MOV0 = I(0xB7, 0, 0, 0, 0)

# --- structural checks (check_subprogs, check_cfg, opcode table) ----------------------------
raw("unknown_opcode", [MOV0, I(0xFF), EXIT], "EINVAL: unknown opcode ff")
raw("unknown_opcode_alu_0xf4", [MOV0, I(0xF4), EXIT], "EINVAL: unknown opcode f4")
raw("unknown_opcode_jmp32_call", [MOV0, I(0x86), EXIT], "EINVAL: unknown opcode 86")
raw("jump_out_of_range_forward", [I(0x05, off=5), EXIT], "EINVAL: jump out of range from insn 0 to 6")
raw("jump_out_of_range_backward", [MOV0, I(0x05, off=-3), EXIT], "EINVAL: jump out of range from insn 1 to -1")
raw("cond_jump_out_of_range", [MOV0, I(0x15, off=10), EXIT], "EINVAL: jump out of range from insn 1 to 12")
raw("unreachable_insn", [MOV0, I(0x05, off=-1), EXIT], "EINVAL: unreachable insn 2")
raw("unreachable_after_exit", [MOV0, EXIT, MOV0, EXIT], "EINVAL: unreachable insn 2")
raw("last_insn_not_exit", [MOV0], "EINVAL: last insn is not an exit or jmp")
raw("last_insn_is_alu", [MOV0, I(0x15, off=1), EXIT, MOV0], "EINVAL: last insn is not an exit or jmp")
raw("ld_imm64_truncated", [MOV0, I(0x18, 0)], "EINVAL: last insn is not an exit or jmp")
raw("ld_imm64_bad_second", [I(0x18, 0), I(0x18, 0), EXIT], "EINVAL: invalid bpf_ld_imm64 insn")
raw("jump_into_ld_imm64", [MOV0, I(0x15, off=1), I(0x18, 0), I(0), EXIT],
    "EINVAL: jump into the middle of ldimm64 insn 2")
raw("ldx_reserved_imm", [I(0x61, 0, 1, 0, 1), EXIT], "EINVAL: BPF_LDX uses reserved fields")
raw("call_invalid_destination", [I(0x85, 0, 1, 0, 10), MOV0, EXIT], "EINVAL: call to invalid destination")
raw("subprog_jump_out_of_range", [I(0x85, 0, 1, 0, 1), EXIT, I(0x05, off=-3), EXIT],
    "EINVAL: jump out of range from insn 2 to 0")
raw("subprog_last_insn", [I(0x85, 0, 1, 0, 1), EXIT, MOV0], "EINVAL: last insn is not an exit or jmp")
raw("unreachable_subprog", [MOV0, EXIT, MOV0, EXIT], "EINVAL: unreachable insn 2")

# --- reserved fields (checked when the instruction is reached) --------------------------------
raw("alu_reserved_off", [I(0x07, 0, 0, 3, 1), EXIT], "EINVAL: BPF_ALU uses reserved fields")
raw("alu_reserved_src", [MOV0, I(0x07, 0, 1, 0, 1), EXIT], "EINVAL: BPF_ALU uses reserved fields")
raw("alu_x_reserved_imm", [MOV0, I(0x0F, 0, 0, 0, 1), EXIT], "EINVAL: BPF_ALU uses reserved fields")
raw("mov_k_reserved_src", [I(0xB7, 0, 1, 0, 0), EXIT], "EINVAL: BPF_MOV uses reserved fields")
raw("mov_x_reserved_imm", [I(0xBF, 0, 1, 0, 5), EXIT], "EINVAL: BPF_MOV uses reserved fields")
raw("percpu_mov_from_userspace", [MOV0, I(0xBF, 0, 1, -1, 0), EXIT], "EINVAL: BPF_MOV uses reserved fields")
raw("neg_reserved", [MOV0, I(0x87, 0, 0, 0, 1), EXIT], "EINVAL: BPF_NEG uses reserved fields")
raw("end_reserved_imm", [MOV0, I(0xD4, 0, 0, 0, 8), EXIT], "EINVAL: BPF_END uses reserved fields")
raw("st_reserved_src", [I(0x7A, 10, 1, -8, 0), MOV0, EXIT], "EINVAL: BPF_ST uses reserved fields")
raw("stx_reserved_imm", [MOV0, I(0x7B, 10, 0, -8, 1), EXIT], "EINVAL: BPF_STX uses reserved fields")
raw("jmp_k_reserved_src", [MOV0, I(0x15, 0, 1, 0, 0), EXIT], "EINVAL: BPF_JMP/JMP32 uses reserved fields")
raw("jmp_x_reserved_imm", [MOV0, I(0x1D, 0, 0, 0, 1), EXIT], "EINVAL: BPF_JMP/JMP32 uses reserved fields")
raw("ja_reserved", [MOV0, I(0x05, 1, 0, 0, 0), EXIT], "EINVAL: BPF_JA uses reserved fields")
raw("exit_reserved", [MOV0, I(0x95, 0, 0, 0, 1)], "EINVAL: BPF_EXIT uses reserved fields")
raw("call_reserved_dst", [I(0x85, 1, 0, 0, 5), EXIT], "EINVAL: BPF_CALL uses reserved fields")
raw("atomic_bad_op", [I(0x7A, 10, 0, -8, 0), MOV0, I(0xDB, 10, 0, -8, 0x33), EXIT],
    "EINVAL: BPF_ATOMIC uses invalid atomic opcode 33")
raw("reg_11_invalid", [I(0xB7, 11, 0, 0, 0), MOV0, EXIT], "EINVAL: R11 is invalid")
raw("ld_abs_dw", [I(0x38, 0, 0, 0, 0), EXIT], "EINVAL: unknown opcode 38")

# --- register initialisation -------------------------------------------------------------------
case("exit_r0_uninit", "exit", "EACCES: R0 !read_ok")
case("read_r2_uninit", "mov %r0, %r2\nexit", "EACCES: R2 !read_ok")
case("read_r9_in_alu", "mov %r0, 0\nadd %r0, %r9\nexit", "EACCES: R9 !read_ok")
case("alu_on_uninit_dst", "add %r3, 1\nmov %r0, 0\nexit", "EACCES: R3 !read_ok")
case("store_uninit_src", "stxdw [%r10-8], %r4\nmov %r0, 0\nexit", "EACCES: R4 !read_ok")
case("load_through_uninit", "ldxdw %r0, [%r5+0]\nexit", "EACCES: R5 !read_ok")
case("cmp_uninit", "mov %r0, 0\njeq %r7, 0, +0\nexit", "EACCES: R7 !read_ok")
case("write_fp", "mov %r10, 0\nmov %r0, 0\nexit", "EACCES: frame pointer is read only")
case("alu_fp", "add %r10, 8\nmov %r0, 0\nexit", "EACCES: frame pointer is read only")
case("r1_clobbered_by_call", "call 7\nmov %r0, %r1\nexit", "EACCES: R1 !read_ok")
case("r5_clobbered_by_call", "mov %r5, 1\ncall 7\nmov %r0, %r5\nexit", "EACCES: R5 !read_ok")
case("r6_survives_call", "mov %r6, 1\ncall 7\nmov %r0, %r6\nexit", "ok")
case("r0_set_by_call", "call 7\nexit", "ok")

# --- ALU checks --------------------------------------------------------------------------------
case("div_by_zero_imm", "mov %r0, 1\ndiv %r0, 0\nexit", "EINVAL: div by zero")
case("mod_by_zero_imm", "mov %r0, 1\nmod32 %r0, 0\nexit", "EINVAL: div by zero")
case("div_by_zero_reg_ok", "mov %r0, 1\nmov %r1, 0\ndiv %r0, %r1\nexit", "ok")
case("shift_too_far", "mov %r0, 1\nlsh %r0, 64\nexit", "EINVAL: invalid shift 64")
case("shift32_too_far", "mov %r0, 1\nrsh32 %r0, 32\nexit", "EINVAL: invalid shift 32")
case("arsh_ok", "mov %r0, -16\narsh %r0, 2\nexit", "ok")
case("alu32_ptr_priv", "mov %r0, %r10\nadd32 %r0, 1\nexit", "EACCES: R0 32-bit pointer arithmetic prohibited")
case("ptr_mul", "mov %r0, %r10\nmul %r0, 2\nexit", "EACCES: R0 pointer arithmetic with *= operator prohibited")
case("ptr_and", "mov %r0, %r10\nand %r0, 7\nexit", "EACCES: R0 bitwise operator &= on pointer prohibited")
case("ptr_or", "mov %r0, %r1\nor %r0, 1\nexit", "EACCES: R0 bitwise operator |= on pointer prohibited")
case("ptr_plus_ptr", "mov %r0, %r10\nadd %r0, %r1\nexit", "EACCES: R0 pointer += pointer prohibited")
case("ptr_minus_ptr_priv", "mov %r0, %r10\nsub %r0, %r10\nexit", "ok")
case("ptr_minus_ptr_unpriv", "mov %r0, %r10\nsub %r0, %r10\nexit", "EACCES: R0 pointer -= pointer prohibited",
     privileged=False)
case("scalar_minus_ptr", "mov %r0, 1\nsub %r0, %r10\nmov %r0, 0\nexit", "EACCES: R0 tried to subtract pointer from scalar")
case("ptr_math_too_big", "mov %r0, %r10\nadd %r0, 0x20000000\nexit",
     "EINVAL: math between fp pointer and 536870912 is not allowed")
case("ctx_dw_on_u32_field", "ldxdw %r2, [%r1+0]\nmov %r0, %r10\nadd %r0, %r2\nmov %r0, 0\nexit",
     "EACCES: invalid bpf_context access off=0 size=8")
case("ptr_math_unbounded_min", "ldxw %r2, [%r1+0]\nlsh %r2, 32\narsh %r2, 32\nmov %r3, %r10\nadd %r3, %r2\nmov %r0, 0\nexit",
     "EINVAL: value -2147483648 makes fp pointer be out of bounds")
case("ptr_math_unbounded_min64", "ldxdw %r2, [%r10-8]\nmov %r3, %r10\nadd %r3, %r2\nmov %r0, 0\nexit",
     "EINVAL: math between fp pointer and register with unbounded min value is not allowed")
case("neg_ptr_unpriv", "mov %r0, %r10\nneg %r0\nexit", "EACCES: R0 pointer arithmetic prohibited", privileged=False)
case("mov32_ptr_unpriv", "mov32 %r0, %r10\nexit", "EACCES: R10 partial copy of pointer", privileged=False)
case("mov32_ptr_priv", "mov32 %r0, %r10\nexit", "ok")
case("movsx_ptr_unpriv", "movsx864 %r0, %r10\nexit", "EACCES: R10 sign-extension part of pointer", privileged=False)
case("map_ptr_arith", "lddw %r0, map:m\nadd %r0, 8\nexit", "EACCES: R0 pointer arithmetic on map_ptr prohibited",
     maps={"m": ARR})
case("map_ptr_add_zero", "lddw %r0, map:m\nadd %r0, 0\nmov %r0, 0\nexit", "ok", maps={"m": ARR})
case("or_null_arith", LOOKUP + "add %r0, 8\n" + OUT,
     "EACCES: R0 pointer arithmetic on map_value_or_null prohibited, null-check it first", maps={"m": HASH})
case("pkt_end_arith", "ldxw %r2, [%r1+4]\nadd %r2, 1\nmov %r0, 0\nexit",
     "EACCES: R2 pointer arithmetic on pkt_end prohibited", prog_type=XDP)
case("addr_space_cast_no_arena", None, "EINVAL: addr_space_cast insn can only be used in a program that has an associated arena")
CASES[-1].raw = [I(0xBF, 0, 1, 1, 1), EXIT]
case("end_le16_bounds", "ldxw %r0, [%r1+0]\nle16 %r0\nexit", "ok")

# --- pointer leaks (CAP_BPF only) ----------------------------------------------------------------
case("ret_fp_priv", "mov %r0, %r10\nexit", "ok")
case("ret_fp_unpriv", "mov %r0, %r10\nexit", "EACCES: R0 leaks addr as return value", privileged=False)
case("ret_ctx_unpriv", "mov %r0, %r1\nexit", "EACCES: R0 leaks addr as return value", privileged=False)
case("leak_into_map_unpriv", LOOKUP_NN + "stxdw [%r0+0], %r10\n" + OUT,
     "EACCES: R10 leaks addr into map", privileged=False, maps={"m": ARR})
case("leak_into_map_priv", LOOKUP_NN + "stxdw [%r0+0], %r10\n" + OUT, "ok", maps={"m": ARR})
case("ptr_into_ctx_priv", "stxw [%r1+48], %r10\nmov %r0, 0\nexit", "ok")
case("leak_into_ctx_unpriv", "stxdw [%r1+48], %r10\nmov %r0, 0\nexit", "EACCES: R10 leaks addr into ctx",
     privileged=False)
case("leak_into_helper_unpriv", "mov %r1, %r10\ncall 8\nmov %r0, 0\nexit", "ok", privileged=False)
case("ptr_cmp_unpriv", "mov %r0, 0\njeq %r10, 5, +0\nexit", "EACCES: R10 pointer comparison prohibited",
     privileged=False)
case("ptr_cmp_src_unpriv", "mov %r0, 0\njeq %r0, %r10, +0\nexit", "EACCES: R10 pointer comparison prohibited",
     privileged=False)
case("ptr_cmp_priv", "mov %r0, 0\njeq %r10, 0, +0\nexit", "ok")
case("stack_var_off_unpriv", "ldxb %r2, [%r1+0]\nmov %r3, %r10\nadd %r3, %r2\nmov %r0, 0\nexit",
     "EACCES: R3 variable stack access prohibited for !root, var_off=(0x0; 0xff) off=0", privileged=False)
case("stack_ptr_out_of_range_unpriv", "mov %r3, %r10\nadd %r3, 8\nmov %r0, 0\nexit",
     "EACCES: R3 stack pointer arithmetic goes out of range, prohibited for !root; off=8", privileged=False)
case("map_value_arith_oob_unpriv", LOOKUP_NN + "add %r0, 8\n" + OUT,
     "EACCES: R0 pointer arithmetic of map value goes out of range, prohibited for !root",
     privileged=False, maps={"m": ARR})

# --- stack -------------------------------------------------------------------------------------------
case("stack_uninit_read_unpriv", "ldxdw %r0, [%r10-8]\nexit", "EACCES: invalid read from stack R10 off=-8 size=8",
     privileged=False)
case("stack_uninit_read_priv", "ldxdw %r0, [%r10-8]\nexit", "ok")
case("stack_partial_init_unpriv", "stw [%r10-4], 1\nldxdw %r0, [%r10-8]\nexit",
     "EACCES: invalid read from stack off -8+0 size 8", privileged=False)
case("stack_partial_spill_unpriv", "stw [%r10-8], 0\nldxdw %r0, [%r10-8]\nexit",
     "EACCES: invalid read from stack off -8+4 size 8", privileged=False)
case("stack_allocated_uninit_unpriv", "stdw [%r10-16], 0\nldxdw %r0, [%r10-8]\nexit",
     "EACCES: invalid read from stack off -8+0 size 8", privileged=False)
case("stack_write_positive_off", "stdw [%r10+0], 0\nmov %r0, 0\nexit", "EACCES: invalid write to stack R10 off=0 size=8")
case("stack_write_too_deep", "stdw [%r10-520], 0\nmov %r0, 0\nexit",
     "EACCES: invalid write to stack R10 off=-520 size=8")
case("stack_read_too_deep", "ldxdw %r0, [%r10-520]\nexit", "EACCES: invalid read from stack R10 off=-520 size=8")
case("stack_straddles_fp", "stdw [%r10-4], 0\nmov %r0, 0\nexit", "EACCES: misaligned stack access off 0+0+-4 size 8")
case("stack_misaligned", "stw [%r10-6], 0\nmov %r0, 0\nexit", "EACCES: misaligned stack access off 0+0+-6 size 4")
case("stack_512_ok", "stdw [%r10-512], 1\nldxdw %r0, [%r10-512]\nexit", "ok")
case("spill_fill_ctx", "stxdw [%r10-8], %r1\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nexit", "ok")
case("spill_partial_fill_ptr", "stxdw [%r10-8], %r1\nldxw %r0, [%r10-8]\nexit", "EACCES: invalid size of register fill")
case("spill_ptr_narrow", "stxw [%r10-8], %r1\nmov %r0, 0\nexit", "EACCES: invalid size of register spill")
case("corrupt_spilled_ptr_unpriv", "stxdw [%r10-8], %r1\nstb [%r10-8], 0\nmov %r0, 0\nexit",
     "EACCES: attempt to corrupt spilled pointer on stack", privileged=False)
case("corrupt_spilled_ptr_priv", "stxdw [%r10-8], %r1\nstb [%r10-7], 0\nldxdw %r0, [%r10-8]\nexit", "ok")
case("spilled_ptr_overwritten_then_deref", "stxdw [%r10-8], %r1\nstdw [%r10-8], 0\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nexit",
     "EACCES: R2 invalid mem access 'scalar'")
case("const_spill_fill", "mov %r2, 4\nstxdw [%r10-8], %r2\nldxdw %r3, [%r10-8]\nmov %r4, %r10\nadd %r4, -8\nsub %r4, %r3\nldxw %r0, [%r4+0]\nexit",
     "EACCES: R4 subtraction from stack pointer prohibited")
case("stack_zero_read", "stdw [%r10-8], 0\nldxdw %r0, [%r10-8]\njeq %r0, 0, +1\nldxdw %r0, [%r10-16]\nexit", "ok",
     privileged=False)

# --- context access ---------------------------------------------------------------------------------
case("ctx_far_write", "stdw [%r1+4096], 0\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=4096 size=8")
case("ctx_far_read", "ldxw %r0, [%r1+4096]\nexit", "EACCES: invalid bpf_context access off=4096 size=4")
case("ctx_len_read", "ldxw %r0, [%r1+0]\nexit", "ok")
case("ctx_narrow_read", "ldxb %r0, [%r1+0]\nexit", "ok")
case("ctx_misaligned_read", "ldxw %r0, [%r1+2]\nexit", "EACCES: invalid bpf_context access off=2 size=4")
case("ctx_write_len", "stw [%r1+0], 0\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=0 size=4")
case("ctx_write_cb", "stw [%r1+48], 1\nmov %r0, 0\nexit", "ok")
case("ctx_write_mark_sf", "stw [%r1+8], 1\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=8 size=4")
case("ctx_write_mark_tc", "stw [%r1+8], 1\nmov %r0, 0\nexit", "ok", prog_type=TC)
case("ctx_data_sf", "ldxw %r0, [%r1+76]\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=76 size=4")
case("ctx_family_tc", "ldxw %r0, [%r1+88]\nexit", "EACCES: invalid bpf_context access off=88 size=4", prog_type=TC)
case("ctx_modified_ptr", "add %r1, 4\nldxw %r0, [%r1+0]\nexit", "EACCES: dereference of modified ctx ptr R1 off=4 disallowed")
case("ctx_xdp_data", "ldxw %r0, [%r1+0]\nmov %r0, 0\nexit", "ok", prog_type=XDP)
case("ctx_xdp_write", "stw [%r1+0], 0\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=0 size=4", prog_type=XDP)
case("ctx_xdp_egress", "ldxw %r0, [%r1+20]\nexit", "EACCES: invalid bpf_context access off=20 size=4", prog_type=XDP)
case("ctx_xdp_narrow", "ldxh %r0, [%r1+12]\nexit", "EACCES: invalid bpf_context access off=12 size=2", prog_type=XDP)
case("ctx_xdp_past_end", "ldxw %r0, [%r1+24]\nexit", "EACCES: invalid bpf_context access off=24 size=4", prog_type=XDP)
case("ctx_kprobe_read", "ldxdw %r0, [%r1+160]\nexit", "ok", prog_type=KPROBE)
case("ctx_kprobe_past_end", "ldxdw %r0, [%r1+168]\nexit", "EACCES: invalid bpf_context access off=168 size=8", prog_type=KPROBE)
case("ctx_kprobe_write", "stdw [%r1+0], 0\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=0 size=8", prog_type=KPROBE)
case("ctx_rawtp_args", "ldxdw %r0, [%r1+88]\nexit", "ok", prog_type=RAWTP)
case("ctx_rawtp_past_end", "ldxdw %r0, [%r1+96]\nexit", "EACCES: invalid bpf_context access off=96 size=8", prog_type=RAWTP)
case("ctx_tp_header", "ldxdw %r0, [%r1+0]\nexit", "EACCES: invalid bpf_context access off=0 size=8", prog_type=TP)
case("ctx_tp_field", "ldxdw %r0, [%r1+8]\nexit", "ok", prog_type=TP)
case("ctx_as_scalar_deref", "mov %r1, 0\nldxw %r0, [%r1+0]\nexit", "EACCES: R1 invalid mem access 'scalar'")
case("ctx_cgskb_data_unpriv", "ldxw %r2, [%r1+76]\nmov %r0, 1\nexit", "ok",
     prog_type=CGSKB, privileged=False)
case("ctx_st_to_ctx_cb_dw", "stdw [%r1+48], 0\nmov %r0, 0\nexit", "ok")
case("ctx_st_past_cb", "stdw [%r1+64], 0\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=64 size=8")

# --- map values ------------------------------------------------------------------------------------------
case("map_value_null_deref", LOOKUP + "ldxw %r0, [%r0+0]\nexit",
     "EACCES: R0 invalid mem access 'map_value_or_null'", maps={"m": HASH})
case("map_value_read_ok", LOOKUP_NN + "ldxdw %r0, [%r0+0]\nexit\n" + OUT, "ok", maps={"m": ARR})
case("map_value_read_oob", LOOKUP_NN + "ldxw %r0, [%r0+8]\nexit\n" + OUT,
     "EACCES: R0 min value is outside of the allowed memory range", maps={"m": ARR})
case("map_value_read_straddle", LOOKUP_NN + "ldxdw %r0, [%r0+4]\nexit\n" + OUT,
     "EACCES: R0 min value is outside of the allowed memory range", maps={"m": ARR})
case("map_value_negative_off", LOOKUP_NN + "ldxb %r0, [%r0-1]\nexit\n" + OUT,
     "EACCES: R0 min value is outside of the allowed memory range", maps={"m": ARR})
case("map_value_write_ok", LOOKUP_NN + "stdw [%r0+0], 1\n" + OUT, "ok", maps={"m": ARR})
case("map_value_var_off_bounded", LOOKUP_NN + "mov %r1, %r0\nldxb %r2, [%r0+0]\nand %r2, 7\nadd %r1, %r2\nldxb %r0, [%r1+0]\nexit\n" + OUT,
     "ok", maps={"m": ARR})
case("map_value_var_off_too_big", LOOKUP_NN + "ldxb %r2, [%r0+0]\nand %r2, 15\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "EACCES: R0 max value is outside of the allowed memory range", maps={"m": ARR})
case("map_value_unbounded", LOOKUP_NN + "ldxw %r2, [%r0+0]\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "EACCES: R0 unbounded memory access, make sure to bounds check any such access", maps={"m": ARR})
case("map_value_negative_min", LOOKUP_NN + "ldxw %r2, [%r0+0]\njgt %r2, 4, out\nsub %r2, 8\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "EACCES: R0 min value is negative, either use unsigned index or do a if (index >=0) check.", maps={"m": ARR})
case("map_value_bounds_check", LOOKUP_NN + "ldxdw %r2, [%r0+0]\njgt %r2, 7, out\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "ok", maps={"m": ARR})
case("map_value_bounds_check_off_by_one", LOOKUP_NN + "ldxdw %r2, [%r0+0]\njgt %r2, 8, out\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "EACCES: R0 max value is outside of the allowed memory range", maps={"m": ARR})
case("map_value_bounds_jlt", LOOKUP_NN + "ldxdw %r2, [%r0+0]\njlt %r2, 8, +2\nmov %r0, 0\nexit\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "ok", maps={"m": ARR})
case("map_value_signed_checks", LOOKUP_NN + "ldxdw %r2, [%r0+0]\njsgt %r2, 7, out\njslt %r2, 0, out\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "ok", maps={"m": ARR})
case("map_value_jmp32_check", LOOKUP_NN + "ldxw %r2, [%r0+0]\njgt32 %r2, 7, out\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "ok", maps={"m": ARR})
case("map_value_null_copy_checked", LOOKUP + "mov %r6, %r0\njeq %r0, 0, out\nldxw %r0, [%r6+0]\nexit\n" + OUT,
     "ok", maps={"m": ARR})
case("map_value_null_branch_is_scalar", LOOKUP + "jne %r0, 0, out\nldxw %r0, [%r0+0]\nexit\n" + OUT,
     "EACCES: R0 invalid mem access 'scalar'", maps={"m": HASH})
case("map_value_jne_null_check", LOOKUP + "jne %r0, 0, +2\nmov %r0, 0\nexit\nldxw %r0, [%r0+4]\nexit", "ok", maps={"m": ARR})
case("map_value_hash", LOOKUP_NN + "ldxdw %r0, [%r0+0]\nexit\n" + OUT, "ok", maps={"m": HASH})
case("map_key_uninit_unpriv", "mov %r2, %r10\nadd %r2, -4\nlddw %r1, map:m\ncall 1\nmov %r0, 0\nexit",
     "EACCES: invalid read from stack R2 off=-4 size=4", privileged=False, maps={"m": ARR})
case("map_key_uninit_priv", "mov %r2, %r10\nadd %r2, -4\nlddw %r1, map:m\ncall 1\nmov %r0, 0\nexit", "ok",
     maps={"m": ARR})
case("map_key_short_stack", "stb [%r10-1], 0\nmov %r2, %r10\nadd %r2, -1\nlddw %r1, map:m\ncall 1\nmov %r0, 0\nexit",
     "EINVAL: invalid read from stack R2 off=-1 size=4", maps={"m": ARR})
case("map_arg_not_map", "mov %r1, 0\nmov %r2, %r10\ncall 1\nmov %r0, 0\nexit",
     "EACCES: R1 type=scalar expected=map_ptr")
case("map_key_scalar", "lddw %r1, map:m\nmov %r2, 0\ncall 1\nmov %r0, 0\nexit",
     "EACCES: R2 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_",
     maps={"m": ARR})
case("map_update_value_stack", "stdw [%r10-8], 0\nstdw [%r10-16], 0\nmov %r2, %r10\nadd %r2, -8\nmov %r3, %r10\nadd %r3, -16\n"
     "lddw %r1, map:m\nmov %r4, 0\ncall 2\nexit", "ok", maps={"m": ARR})
case("map_update_value_uninit_unpriv", "stdw [%r10-8], 0\nstw [%r10-12], 0\nmov %r2, %r10\nadd %r2, -8\nmov %r3, %r10\n"
     "add %r3, -16\nlddw %r1, map:m\nmov %r4, 0\ncall 2\nexit",
     "EACCES: invalid read from stack R3 off -16+0 size 8", maps={"m": ARR}, privileged=False)
case("map_lookup_value_as_key", LOOKUP_NN + "mov %r2, %r0\nlddw %r1, map:m\ncall 1\n" + OUT, "ok", maps={"m": ARR})
case("map_value_direct_ld", "lddw %r1, mapval:m+4\nldxw %r0, [%r1+0]\nexit", "ok", maps={"m": ARR})
case("map_value_direct_oob", "lddw %r1, mapval:m+4\nldxdw %r0, [%r1+0]\nexit",
     "EACCES: R1 min value is outside of the allowed memory range", maps={"m": ARR})

# --- read-only maps (.rodata) and constant folding ---------------------------------------------------------
case("rodata_frozen_folds", "lddw %r1, mapval:m\nldxdw %r0, [%r1+0]\njeq %r0, 7, +1\nexit\nmov %r0, 0\nexit",
     "ok", maps={"m": RO})
case("rodata_frozen_dead_branch", "lddw %r1, mapval:m\nldxdw %r0, [%r1+0]\njeq %r0, 7, +1\nmov %r0, %r5\nexit",
     "ok", maps={"m": RO})
case("rodata_unfrozen_no_fold", "lddw %r1, mapval:m\nldxdw %r0, [%r1+0]\njeq %r0, 7, +1\nmov %r0, %r5\nexit",
     "EACCES: R5 !read_ok", maps={"m": RO_UNFROZEN})
case("rodata_write", "lddw %r1, mapval:m\nstdw [%r1+0], 1\nmov %r0, 0\nexit",
     "EACCES: write into map forbidden, value_size=8 off=0 size=8", maps={"m": RO})
case("rodata_write_off", "lddw %r1, mapval:m+4\nstw [%r1+0], 1\nmov %r0, 0\nexit",
     "EACCES: write into map forbidden, value_size=8 off=4 size=4", maps={"m": RO})
case("rodata_write_via_lookup", LOOKUP_NN + "stdw [%r0+0], 1\n" + OUT,
     "EACCES: write into map forbidden, value_size=8 off=0 size=8", maps={"m": RO})

# --- global per-CPU data (upstream-spec §3) ---------------------------------------------------------------
case("percpu_value_read", "lddw %r1, mapval:m\nldxdw %r0, [%r1+8]\nexit", "ok", maps={"m": PCPU})
case("percpu_value_write", "lddw %r1, mapval:m\nstdw [%r1+8], 1\nmov %r0, 0\nexit", "ok", maps={"m": PCPU})
case("percpu_value_oob", "lddw %r1, mapval:m+8\nldxdw %r0, [%r1+8]\nexit",
     "EACCES: R1 min value is outside of the allowed memory range", maps={"m": PCPU})
case("percpu_rdonly_not_folded", "lddw %r1, mapval:m\nldxdw %r0, [%r1+0]\njeq %r0, 0, +1\nmov %r0, %r5\nexit",
     "EACCES: R5 !read_ok", maps={"m": PCPU_RO})
case("percpu_rdonly_write", "lddw %r1, mapval:m\nstw [%r1+4], 1\nmov %r0, 0\nexit",
     "EACCES: write into map forbidden, value_size=8 off=4 size=4", maps={"m": PCPU_RO})
case("percpu_const_str", "lddw %r3, mapval:m\nmov %r1, %r10\nadd %r1, -8\nstdw [%r10-8], 0\nmov %r2, 4\ncall 182\nexit",
     "EACCES: R3 points to percpu_array map which cannot be used as const string", maps={"m": PCPU})
case("percpu_rdonly_const_str", "lddw %r3, mapval:m\nmov %r1, %r10\nadd %r1, -8\nstdw [%r10-8], 0\nmov %r2, 4\ncall 182\nexit",
     "EACCES: R3 points to percpu_array map which cannot be used as const string", maps={"m": PCPU_RO})
case("const_str_rodata_ok", "lddw %r3, mapval:m\nmov %r1, %r10\nadd %r1, -8\nstdw [%r10-8], 0\nmov %r2, 4\ncall 182\nexit",
     "ok", maps={"m": RO_STR})
case("const_str_not_readonly", "lddw %r3, mapval:m\nmov %r1, %r10\nadd %r1, -8\nstdw [%r10-8], 0\nmov %r2, 4\ncall 182\nexit",
     "EACCES: R3 does not point to a readonly map'", maps={"m": ARR})
case("const_str_unterminated", "lddw %r3, mapval:m\nmov %r1, %r10\nadd %r1, -8\nstdw [%r10-8], 0\nmov %r2, 4\ncall 182\nexit",
     "EINVAL: string is not zero-terminated", maps={"m": RO_NOSTR})
case("const_str_stack", "mov %r3, %r10\nadd %r3, -8\nmov %r1, %r10\nadd %r1, -8\nstdw [%r10-8], 0\nmov %r2, 4\ncall 182\nexit",
     "EACCES: R3 type=fp expected=map_value")

# --- helpers ------------------------------------------------------------------------------------------------
case("helper_invalid_id", "call 100000\nexit", "EINVAL: invalid func unknown#100000")
case("helper_id_zero", "call 0\nexit", "EINVAL: program of this type cannot use helper bpf_unspec#0")
case("helper_wrong_prog_type", "mov %r1, %r10\ncall 44\nexit",
     "EINVAL: program of this type cannot use helper bpf_xdp_adjust_head#44")
case("helper_gpl_only", "mov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, 0\ncall 113\nexit",
     "EINVAL: cannot call GPL-restricted function from non-GPL compatible program", prog_type=KPROBE, license="MIT")
case("helper_perfmon_unpriv", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 6\nexit",
     "EINVAL: program of this type cannot use helper bpf_trace_printk#6", privileged=False)
case("helper_trace_printk", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 6\nexit", "ok")
case("helper_trace_printk_size_zero", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 0\ncall 6\nexit",
     "EACCES: R2 invalid zero-sized read: u64=[0,0]")
case("helper_size_negative", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, -1\ncall 6\nexit",
     "EACCES: R2 min value is negative, either use unsigned or 'var &= const'")
case("helper_size_unbounded", "ldxw %r2, [%r1+0]\nlsh %r2, 30\nor %r2, 1\nstdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\ncall 6\nexit",
     "EACCES: R2 unbounded memory access, use 'var &= const' or 'if (var < const)'")
case("helper_size_too_big", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 16\ncall 6\nexit",
     "EINVAL: invalid read from stack R1 off=-8 size=16")
case("helper_size_not_scalar", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, %r10\ncall 6\nexit",
     "EACCES: R2 type=fp expected=scalar")
case("helper_mem_scalar", "mov %r1, 0\nmov %r2, 8\ncall 6\nexit", "EACCES: R1 type=scalar expected=fp, pkt, pkt_meta, map_key, map_value, mem, ringbuf_mem, buf, trusted_ptr_")
case("helper_anything_uninit", "call 26\nmov %r0, 0\nexit", "EACCES: R2 !read_ok")
case("helper_ctx_arg", "mov %r1, %r10\nlddw %r2, map:p\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit",
     "EACCES: R1 type=fp expected=ctx", maps={"p": PROGS})
case("tail_call_ok", "lddw %r2, map:p\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit", "ok", maps={"p": PROGS})
case("tail_call_wrong_map", "lddw %r2, map:m\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit",
     "EINVAL: expected prog array map for tail call", maps={"m": ARR})
case("prog_array_lookup", LOOKUP + "mov %r0, 0\nexit", "EINVAL: cannot pass map_type 3 into func bpf_map_lookup_elem#1",
     maps={"m": MapSpec(MapType.PROG_ARRAY, 4, 4, 4)})
case("percpu_lookup_on_array", "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map:m\nmov %r3, 0\ncall 195\nmov %r0, 0\nexit",
     "EINVAL: cannot pass map_type 2 into func bpf_map_lookup_percpu_elem#195", maps={"m": ARR})
case("percpu_lookup_ok", "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map:m\nmov %r3, 0\ncall 195\nmov %r0, 0\nexit",
     "ok", maps={"m": PCPU})
case("probe_read_fills_stack", "mov %r1, %r10\nadd %r1, -16\nmov %r2, 16\nmov %r3, 0\ncall 113\nldxdw %r0, [%r10-8]\nexit",
     "ok", prog_type=KPROBE)
case("skb_load_bytes", "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 8\ncall 26\nldxdw %r0, [%r10-8]\nexit", "ok")

# --- ring buffer references -------------------------------------------------------------------------------
case("ringbuf_submit", RESERVE + "jeq %r0, 0, out\nstdw [%r0+0], 1\nmov %r1, %r0\nmov %r2, 0\ncall 132\n" + OUT,
     "ok", maps={"rb": RB})
case("ringbuf_leak", RESERVE + "jeq %r0, 0, out\nstdw [%r0+0], 1\n" + OUT,
     "EINVAL: BPF_EXIT instruction in main prog would lead to reference leak", maps={"rb": RB})
case("ringbuf_oob", RESERVE + "jeq %r0, 0, out\nstdw [%r0+8], 1\nmov %r1, %r0\nmov %r2, 0\ncall 132\n" + OUT,
     "EACCES: R0 min value is outside of the allowed memory range", maps={"rb": RB})
case("ringbuf_submit_null", RESERVE + "mov %r1, %r0\nmov %r2, 0\ncall 132\n" + OUT,
     "EACCES: R1 type=ringbuf_mem_or_null expected=ringbuf_mem", maps={"rb": RB})
case("ringbuf_use_after_submit", RESERVE + "jeq %r0, 0, out\nmov %r6, %r0\nmov %r1, %r0\nmov %r2, 0\ncall 132\nstdw [%r6+0], 1\n" + OUT,
     "EACCES: R6 invalid mem access 'scalar'", maps={"rb": RB})
case("ringbuf_size_not_const", "ldxw %r2, [%r1+0]\nlddw %r1, map:rb\nmov %r3, 0\ncall 131\nmov %r0, 0\nexit",
     "EACCES: R2 is not a known constant'", maps={"rb": RB})
case("ringbuf_wrong_map", "lddw %r1, map:m\nmov %r2, 8\nmov %r3, 0\ncall 131\nmov %r0, 0\nexit",
     "EINVAL: cannot pass map_type 2 into func bpf_ringbuf_reserve#131", maps={"m": ARR})
case("peek_on_array", "mov %r2, %r10\nadd %r2, -8\nlddw %r1, map:m\ncall 89\nmov %r0, 0\nexit",
     "EINVAL: cannot pass map_type 2 into func bpf_map_peek_elem#89", maps={"m": ARR})
case("ringbuf_discard_offset", RESERVE + "jeq %r0, 0, out\nmov %r1, %r0\nadd %r1, 4\nmov %r2, 0\ncall 133\n" + OUT,
     "EINVAL: R1 must have zero offset when passed to release func or trusted arg to kfunc", maps={"rb": RB})

# --- packets ----------------------------------------------------------------------------------------------------
PKT = "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r4, %r2\nadd %r4, 14\n"
case("pkt_read_checked", PKT + "jgt %r4, %r3, out\nldxb %r0, [%r2+13]\nexit\n" + OUT, "ok", prog_type=XDP)
case("pkt_read_unchecked", PKT + "ldxb %r0, [%r2+0]\nexit",
     "EACCES: R2 offset is outside of the packet", prog_type=XDP)
case("pkt_read_past_check", PKT + "jgt %r4, %r3, out\nldxb %r0, [%r2+14]\nexit\n" + OUT,
     "EACCES: R2 offset is outside of the packet", prog_type=XDP)
case("pkt_read_reverse_cmp", PKT + "jlt %r3, %r4, out\nldxw %r0, [%r2+10]\nexit\n" + OUT, "ok", prog_type=XDP)
case("pkt_read_jle", PKT + "jle %r4, %r3, +2\nmov %r0, 0\nexit\nldxh %r0, [%r2+12]\nexit", "ok", prog_type=XDP)
case("pkt_write_xdp", PKT + "jgt %r4, %r3, out\nstb [%r2+0], 1\n" + OUT, "ok", prog_type=XDP)
case("pkt_write_cgskb", "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 14\njgt %r4, %r3, +1\nstb [%r2+0], 1\nmov %r0, 1\nexit",
     "EACCES: cannot write into packet", prog_type=CGSKB)
case("pkt_end_deref", "ldxw %r3, [%r1+4]\nldxb %r0, [%r3+0]\nexit", "EACCES: R3 invalid mem access 'pkt_end'",
     prog_type=XDP)
case("pkt_tc_checked", "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 8\njgt %r4, %r3, +1\nldxdw %r0, [%r2+0]\nmov %r0, 0\nexit",
     "ok", prog_type=TC)
case("pkt_var_offset", PKT + "jgt %r4, %r3, out\nldxb %r5, [%r2+0]\nand %r5, 7\nadd %r2, %r5\nldxb %r0, [%r2+0]\nexit\n" + OUT,
     "EACCES: R2 offset is outside of the packet", prog_type=XDP)

# --- branches, loops, pruning ------------------------------------------------------------------------------
case("infinite_loop", "mov %r0, 0\nl: jeq %r0, 0, l\nexit", "EINVAL: infinite loop detected at insn 1")
case("infinite_loop_ja", "mov %r0, 0\nl: ja l\nexit", "EINVAL: unreachable insn 2")
case("infinite_loop_body", "mov %r0, 0\nl: mov %r1, 1\njeq %r0, 0, l\nexit", "EINVAL: infinite loop detected at insn 1")
case("bounded_loop", "mov %r0, 0\nmov %r1, 0\nl: add %r0, %r1\nadd %r1, 1\njlt %r1, 100, l\nexit", "ok")
case("bounded_loop_32", "mov %r0, 0\nmov32 %r1, 0\nl: add32 %r0, 1\nadd32 %r1, 1\njlt32 %r1, 50, l\nexit", "ok")
case("loop_too_long", "mov %r0, 0\nmov %r1, 0\nl: add %r1, 1\njlt %r1, 1000000, l\nexit",
     "E2BIG: BPF program is too large. Processed 1000001 insn", log_level=0)
case("dead_branch_const", "mov %r1, 5\njgt %r1, 10, +1\nmov %r0, 0\nexit", "ok")
case("dead_branch_skips_bad_code", "mov %r1, 5\njgt %r1, 10, +2\nmov %r0, 0\nexit\nmov %r0, %r9\nexit", "ok")
case("live_branch_bad_code", "ldxw %r1, [%r1+0]\njgt %r1, 10, +2\nmov %r0, 0\nexit\nmov %r0, %r9\nexit",
     "EACCES: R9 !read_ok")
case("branch_uninit_one_side", "ldxw %r1, [%r1+0]\njeq %r1, 0, +1\nmov %r0, 1\nexit", "EACCES: R0 !read_ok")
case("jset_dead", "mov %r1, 4\njset %r1, 3, +2\nmov %r0, 0\nexit\nmov %r0, %r9\nexit", "ok")
case("jset_refines", "ldxw %r1, [%r1+0]\njset %r1, 0xffffff00, +5\nmov %r0, %r10\nadd %r0, -256\nadd %r0, %r1\nmov %r0, 0\nexit\nmov %r0, 0\nexit", "ok")
case("range_from_and", "ldxw %r2, [%r1+0]\nand %r2, 0xff\njgt %r2, 255, +1\nmov %r0, 0\nmov %r0, 0\nexit", "ok")
case("signed_unsigned_mix", "ldxw %r2, [%r1+0]\njsgt %r2, 10, +1\nmov %r0, 0\nmov %r0, 0\nexit", "ok")
case("linked_scalars", LOOKUP_NN + "ldxdw %r2, [%r0+0]\nmov %r3, %r2\njgt %r3, 7, out\nadd %r0, %r2\nldxb %r0, [%r0+0]\nexit\n" + OUT,
     "ok", maps={"m": ARR})
case("many_branches_pruned", "\n".join(["ldxw %r2, [%r1+0]", "mov %r0, 0"] +
                                       [f"jeq %r2, {k}, +1\nadd %r0, 1" for k in range(200)] + ["exit"]), "ok")
case("may_goto_like_ja_back", "mov %r0, 0\nmov %r1, 10\nl: sub %r1, 1\njne %r1, 0, l\nexit", "ok")

# --- subprograms -----------------------------------------------------------------------------------------------
case("subprog_call", "mov %r1, 1\ncall local f\nexit\nf:\nmov %r0, %r1\nexit", "ok")
case("subprog_r0_uninit", "call local f\nexit\nf:\nexit", "EACCES: R0 !read_ok")
case("subprog_r6_not_passed", "mov %r6, 1\ncall local f\nexit\nf:\nmov %r0, %r6\nexit", "EACCES: R6 !read_ok")
case("subprog_r1_clobbered", "mov %r1, 1\ncall local f\nmov %r0, %r1\nexit\nf:\nmov %r0, 0\nexit", "EACCES: R1 !read_ok")
case("subprog_r6_preserved", "mov %r6, 1\ncall local f\nmov %r0, %r6\nexit\nf:\nmov %r0, 0\nexit", "ok")
case("subprog_caller_stack", "stdw [%r10-8], 5\nmov %r1, %r10\nadd %r1, -8\ncall local f\nexit\nf:\nldxdw %r0, [%r1+0]\nexit", "ok")
case("subprog_return_stack_ptr", "call local f\nmov %r0, 0\nexit\nf:\nmov %r0, %r10\nexit",
     "EINVAL: cannot return stack pointer to the caller")
case("subprog_stack_too_deep",
     "stdw [%r10-512], 0\ncall local f\nmov %r0, 0\nexit\nf:\nstdw [%r10-64], 0\nmov %r0, 0\nexit",
     "EACCES: combined stack size of 2 calls is 576. Too large")
case("subprog_ctx_passthrough", "call local f\nexit\nf:\nldxw %r0, [%r1+0]\nexit", "ok")
case("call_depth_9", "\n".join(["mov %r0, 0", "call local f1", "exit"] +
                               [f"f{k}:\ncall local f{k + 1}\nexit" for k in range(1, 9)] +
                               ["f9:\nmov %r0, 0\nexit"]),
     "E2BIG: the call stack of 9 frames is too deep")
case("call_depth_8_ok", "\n".join(["mov %r0, 0", "call local f1", "exit"] +
                                  [f"f{k}:\ncall local f{k + 1}\nexit" for k in range(1, 7)] +
                                  ["f7:\nmov %r0, 0\nexit"]), "ok")
case("kfunc_call", None, "EINVAL: kernel btf_id 1234 is not a function")
CASES[-1].raw = [I(0x85, 0, 2, 0, 1234), EXIT]

# --- return codes -------------------------------------------------------------------------------------------------
case("cgskb_ret_ok", "mov %r0, 1\nexit", "ok", prog_type=CGSKB)
case("cgskb_ret_range", "mov %r0, 2\nexit", "EINVAL: At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]",
     prog_type=CGSKB)
case("cgskb_ret_unknown", "ldxw %r0, [%r1+0]\nexit",
     "EINVAL: At program exit the register R0 has smin=0 smax=4294967295 should have been in [0, 1]", prog_type=CGSKB)
case("cgskb_ret_ptr", "mov %r0, %r10\nexit", "EINVAL: At program exit the register R0 is not a known value (fp)",
     prog_type=CGSKB)
case("xdp_ret_any", "mov %r0, 12345\nexit", "ok", prog_type=XDP)

# --- legacy packet loads ------------------------------------------------------------------------------------------
raw("ld_abs_ok", [I(0xBF, 6, 1), I(0x20, 0, 0, 0, 0), EXIT], "ok")
raw("ld_abs_no_r6", [I(0x20, 0, 0, 0, 0), EXIT], "EACCES: R6 !read_ok")
raw("ld_abs_r6_not_ctx", [I(0xB7, 6, 0, 0, 0), I(0x20, 0, 0, 0, 0), EXIT],
    "EINVAL: at the time of BPF_LD_ABS|IND R6 != pointer to skb")
raw("ld_abs_xdp", [I(0xBF, 6, 1), I(0x20, 0, 0, 0, 0), EXIT],
    "EINVAL: BPF_LD_[ABS|IND] instructions not allowed for this program type", prog_type=XDP)
raw("ld_abs_clobbers_r1", [I(0xBF, 6, 1), I(0x20, 0, 0, 0, 0), I(0xBF, 0, 1), EXIT], "EACCES: R1 !read_ok")
raw("ld_ind_ok", [I(0xBF, 6, 1), I(0xB7, 7, 0, 0, 2), I(0x40, 0, 7, 0, 0), EXIT], "ok")

# --- atomics -----------------------------------------------------------------------------------------------------
case("atomic_stack_add", "stdw [%r10-8], 0\nmov %r1, 1\nlock add [%r10-8], %r1\nldxdw %r0, [%r10-8]\nexit", "ok")
case("atomic_fetch", "stdw [%r10-8], 0\nmov %r1, 1\nlock fetch add [%r10-8], %r1\nmov %r0, %r1\nexit", "ok")
case("atomic_ctx", "mov %r2, 1\nlock add [%r1+48], %r2\nmov %r0, 0\nexit",
     "EACCES: BPF_ATOMIC stores into R1 ctx is not allowed")
case("atomic_uninit_stack_unpriv", "mov %r1, 1\nlock add [%r10-8], %r1\nmov %r0, 0\nexit",
     "EACCES: invalid read from stack R10 off=-8 size=8", privileged=False)
case("atomic_map_value", LOOKUP_NN + "mov %r1, 1\nlock add [%r0+0], %r1\n" + OUT, "ok", maps={"m": ARR})
case("atomic_leak_unpriv", "stdw [%r10-8], 0\nlock xchg [%r10-8], %r10\nmov %r0, 0\nexit",
     "EACCES: R10 leaks addr into mem", privileged=False)
case("cmpxchg_r0_uninit", "stdw [%r10-8], 0\nmov %r1, 1\nlock cmpxchg [%r10-8], %r1\nexit", "EACCES: R0 !read_ok")

# --- callbacks (bpf_loop #181, bpf_for_each_map_elem #164) ------------------------------------------------------


def _loop(body: list, ctx_arg: list | None = None, nr: int = 10) -> list:
    """main: r0 = bpf_loop(nr, cb, ctx, 0); exit.  cb: `body` (must end in exit)."""
    pre = [I(0xB7, 1, 0, 0, nr)]
    ctx = ctx_arg or [I(0xB7, 3, 0, 0, 0)]
    tail = [I(0xB7, 4, 0, 0, 0), I(0x85, 0, 0, 0, 181), EXIT]
    n_before_cb = len(pre) + 2 + len(ctx) + len(tail)
    ld = [I(0x18, 2, 4, 0, n_before_cb - len(pre) - 1), I(0)]
    return pre + ld + ctx + tail + body


raw("bpf_loop_no_func_info", _loop([I(0xB7, 0, 0, 0, 0), EXIT]), "EINVAL: missing btf func_info")
raw("bpf_loop_ok", _loop([I(0xB7, 0, 0, 0, 0), EXIT]), "ok")
raw("bpf_loop_ret_range", _loop([I(0xB7, 0, 0, 0, 2), EXIT]),
    "EINVAL: At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]")
raw("bpf_loop_ret_uninit", _loop([EXIT]), "EACCES: R0 !read_ok")
raw("bpf_loop_index_is_scalar", _loop([I(0xBF, 0, 1), I(0x57, 0, 0, 0, 1), EXIT]), "ok")
raw("bpf_loop_ctx_stack", _loop([I(0x79, 3, 2, 0, 0), I(0xB7, 0, 0, 0, 0), EXIT],
                                [I(0x7A, 10, 0, -8, 1), I(0xBF, 3, 10), I(0x07, 3, 0, 0, -8)]), "ok")
raw("bpf_loop_ctx_null_deref", _loop([I(0x79, 3, 2, 0, 0), I(0xB7, 0, 0, 0, 0), EXIT]),
    "EACCES: R2 invalid mem access 'scalar'")
raw("bpf_loop_cb_not_func", [I(0xB7, 1, 0, 0, 1), I(0xB7, 2, 0, 0, 0), I(0xB7, 3, 0, 0, 0), I(0xB7, 4, 0, 0, 0),
                             I(0x85, 0, 0, 0, 181), EXIT], "EACCES: R2 type=scalar expected=func")

for _c in CASES:
    if _c.name.startswith("bpf_loop_") and _c.name not in ("bpf_loop_no_func_info", "bpf_loop_cb_not_func"):
        _c.func_info = [(0, 1), (len(_c.raw) - (3 if "ctx_" in _c.name or "index" in _c.name else 2), 2)]
        _c.real = False          # the running kernel wants real BTF behind func_info
    if _c.name.startswith("percpu_") and _c.name != "percpu_lookup_ok":
        _c.real = False          # global percpu data: not in the running 6.18 kernel

# --- more edge cases, each checked against the running kernel -----------------------------------------------------
STACKQ = MapSpec(MapType.STACK, 0, 8, 4)
PUSH = "stdw [%r10-8], 0\nlddw %r1, map:m\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 0\ncall 87\nexit"
case("div32_by_zero_imm", "mov %r0, 1\ndiv32 %r0, 0\nexit", "EINVAL: div by zero")
case("mod32_by_zero_imm", "mov %r0, 1\nmod32 %r0, 0\nexit", "EINVAL: div by zero")
case("sdiv_by_zero_imm", "mov %r0, 1\nsdiv %r0, 0\nexit", "EINVAL: div by zero")
case("sdiv_ok", "mov %r0, -7\nsdiv %r0, 2\nexit", "ok")
case("arsh_too_far", "mov %r0, 1\narsh %r0, 64\nexit", "EINVAL: invalid shift 64")
case("lsh_neg_imm", "mov %r0, 1\nlsh %r0, -1\nexit", "EINVAL: invalid shift -1")
case("be16_uninit", "be16 %r3\nmov %r0, 0\nexit", "EACCES: R3 !read_ok")
case("bswap64_ok", "mov %r0, 1\nbswap64 %r0\nexit", "ok")
case("movsx8_const", "mov %r0, 255\nmovsx864 %r0, %r0\nexit", "ok")
case("movsx_uninit_src", "movsx1664 %r0, %r5\nexit", "EACCES: R5 !read_ok")
case("mov32_to_fp", "mov32 %r10, 0\nmov %r0, 0\nexit", "EACCES: frame pointer is read only")
case("neg_fp", "neg %r10\nmov %r0, 0\nexit", "EACCES: frame pointer is read only")
case("ldxdw_fp_off0", "ldxdw %r0, [%r10+0]\nexit", "EACCES: invalid read from stack R10 off=0 size=8")
case("ldsx_stack_ok", "stdw [%r10-8], -1\nldxsb %r0, [%r10-8]\nexit", "ok")
case("ldsx_ctx_ok", "ldxsw %r0, [%r1+0]\nexit", "ok")
case("ja32_skips_insn", "mov %r0, 0\nja32 +1\nmov %r0, 1\nexit", "EINVAL: unreachable insn 2")
case("jeq32_ptr_priv", "mov %r0, 0\njeq32 %r1, 0, +1\nmov %r0, 1\nexit", "ok")
case("scalar_deref_after_call", "call 7\nldxw %r0, [%r0+0]\nexit", "EACCES: R0 invalid mem access 'scalar'")
case("const_zero_deref", "mov %r1, 0\nldxw %r0, [%r1+0]\nexit", "EACCES: R1 invalid mem access 'scalar'")
case("store_to_scalar_ptr", "mov %r1, 5\nstdw [%r1+0], 0\nmov %r0, 0\nexit", "EACCES: R1 invalid mem access 'scalar'")
case("helper_ktime", "call 5\nexit", "ok")
case("helper_smp_id", "call 8\nexit", "ok")
case("helper_get_stackid_sf", "call 27\nexit", "EINVAL: program of this type cannot use helper bpf_get_stackid#27")
case("helper_probe_read_kernel_sf", "mov %r1, %r10\nadd %r1, -8\nmov %r2, 8\nmov %r3, 0\ncall 113\nexit", "ok")
case("map_push_on_array", PUSH, "EINVAL: cannot pass map_type 2 into func bpf_map_push_elem#87", maps={"m": ARR})
case("map_push_on_stack_ok", PUSH, "ok", maps={"m": STACKQ})
case("map_lookup_on_stack_map", LOOKUP + "exit", "EACCES: invalid zero-sized read", maps={"m": STACKQ})
case("map_delete_array_ok", "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map:m\ncall 3\nexit", "ok",
     maps={"m": ARR})
case("skb_load_bytes_zero_len", "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 0\ncall 26\nexit",
     "EACCES: R4 invalid zero-sized read: u64=[0,0]")
case("skb_load_bytes_past_stack", "mov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 16\ncall 26\nexit",
     "EINVAL: invalid write to stack R3 off=-8 size=16")
case("subprog_recursion", "call local f\nexit\nf:\ncall local f\nexit", "E2BIG: the call stack of 9 frames is too deep")
case("jump_into_subprog", "mov %r0, 0\nja +2\ncall local f\nexit\nf:\nmov %r0, 0\nexit",
     "EINVAL: jump out of range from insn 1 to 4")
case("subprog_two_levels", "call local f\nexit\nf:\ncall local g\nexit\ng:\nmov %r0, 3\nexit", "ok")
case("mapval_direct_past_end", "lddw %r1, mapval:m+8\nmov %r0, 0\nexit",
     "EINVAL: invalid access to map value pointer, value_size=8 off=8", maps={"m": ARR})
case("mapval_direct_off4_ok", "lddw %r1, mapval:m+4\nldxw %r0, [%r1+0]\nexit", "ok", maps={"m": ARR})
case("mapval_direct_hash", "lddw %r1, mapval:m\nmov %r0, 0\nexit",
     "EINVAL: no direct value access support for this map type", maps={"m": HASH})
raw("ld_imm64_bad_pseudo", [I(0x18, 1, 7, 0, 0), I(0), MOV0, EXIT], "EINVAL: unrecognized bpf_ld_imm64 insn")
raw("ld_imm64_bad_map_fd", [I(0x18, 1, 1, 0, 999), I(0), MOV0, EXIT], "EBADF: fd 999 is not pointing to valid bpf_map")
raw("ld_imm64_second_dst_set", [I(0x18, 1, 0, 0, 0), I(0, 1, 0, 0, 0), MOV0, EXIT], "EINVAL: invalid bpf_ld_imm64 insn")
case("atomic_pkt_xdp", PKT + "jgt %r4, %r3, out\nmov %r5, 1\nlock add32 [%r2+0], %r5\n" + OUT,
     "EACCES: BPF_ATOMIC stores into R2 pkt is not allowed", prog_type=XDP)
case("atomic32_stack_ok", "stw [%r10-4], 0\nmov %r1, 1\nlock add32 [%r10-4], %r1\nldxw %r0, [%r10-4]\nexit", "ok")
case("atomic_fetch_uninit_src", "stdw [%r10-8], 0\nlock fetch add [%r10-8], %r3\nmov %r0, 0\nexit",
     "EACCES: R3 !read_ok")
case("atomic_misaligned_stack", "stdw [%r10-8], 0\nmov %r1, 1\nlock add32 [%r10-6], %r1\nmov %r0, 0\nexit",
     "EACCES: misaligned stack access off 0+0+-6 size 4")
case("tc_xdp_offsets_are_scalars", PKT + "jgt %r4, %r3, out\nstb [%r2+0], 1\n" + OUT,
     "EACCES: R2 invalid mem access 'scalar'", prog_type=TC)
case("ctx_data_sf_76", "ldxw %r2, [%r1+76]\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=76 size=4")
case("ctx_tc_data_ok", "ldxw %r2, [%r1+76]\nmov %r0, 0\nexit", "ok", prog_type=TC)
case("ctx_tc_tstamp_write", "stdw [%r1+152], 0\nmov %r0, 0\nexit", "ok", prog_type=TC)
case("ctx_kprobe_narrow_ok", "ldxw %r0, [%r1+0]\nexit", "ok", prog_type=KPROBE)
case("ctx_rawtp_write", "stdw [%r1+0], 0\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=0 size=8",
     prog_type=RAWTP)
case("ctx_tp_write", "stdw [%r1+8], 0\nmov %r0, 0\nexit", "EACCES: invalid bpf_context access off=8 size=8",
     prog_type=TP)
case("ctx_xdp_rx_queue", "ldxw %r0, [%r1+16]\nexit", "ok", prog_type=XDP)
case("ctx_and_on_pointer", "ldxw %r2, [%r1+0]\nand %r2, 4\nadd %r1, %r2\nldxw %r0, [%r1+0]\nexit",
     "EACCES: R2 bitwise operator &= on pointer prohibited", prog_type=XDP)
case("stack_var_off_read_priv", "stdw [%r10-16], 0\nstdw [%r10-8], 0\ncall 7\nand %r0, 8\nmov %r1, %r10\n"
     "add %r1, -16\nadd %r1, %r0\nldxdw %r0, [%r1+0]\nexit", "ok")
case("stack_var_off_write_priv", "call 7\nand %r0, 8\nmov %r1, %r10\nadd %r1, -16\nadd %r1, %r0\nstdw [%r1+0], 0\n"
     "mov %r0, 0\nexit", "ok")
case("loop_var_bound_ok", "mov %r1, 0\nl:\nadd %r1, 1\njlt %r1, 100, l\nmov %r0, 0\nexit", "ok")
case("loop_unbounded_call", "l:\ncall 7\njne %r0, 0, l\nexit", "EINVAL: infinite loop detected at insn 1")
case("tail_call_no_prog_array", "mov %r2, 0\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit",
     "EACCES: R2 type=scalar expected=map_ptr")
case("ringbuf_reserve_discard_ok", "lddw %r1, map:rb\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, out\n"
     "mov %r1, %r0\nmov %r2, 0\ncall 133\n" + OUT, "ok", maps={"rb": RB})
case("ringbuf_output_stack", "stdw [%r10-8], 0\nlddw %r1, map:rb\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\n"
     "mov %r4, 0\ncall 130\nexit", "ok", maps={"rb": RB})
# CAP_BPF only (checked by the setpriv run of unpriv_probe.py)
case("ldsx_uninit_stack_unpriv", "ldxsh %r0, [%r10-8]\nexit", "EACCES: invalid read from stack R10 off=-8 size=2",
     privileged=False)
case("jeq32_ptr_unpriv", "mov %r0, 0\njeq32 %r1, 0, +1\nmov %r0, 1\nexit", "EACCES: R1 pointer comparison prohibited",
     privileged=False)
case("jset_ptr_unpriv", "mov %r0, 0\njset %r1, 1, +1\nmov %r0, 1\nexit", "EACCES: R1 pointer comparison prohibited",
     privileged=False)
case("ptr_cmp_fp_ctx_unpriv", "mov %r0, 0\njeq %r1, %r10, +1\nmov %r0, 1\nexit",
     "EACCES: R10 pointer comparison prohibited", privileged=False)
case("ret_map_ptr_unpriv", "lddw %r0, map:m\nexit", "EACCES: R0 leaks addr as return value", maps={"m": ARR},
     privileged=False)
case("ringbuf_output_uninit_unpriv", "lddw %r1, map:rb\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, 0\n"
     "call 130\nexit", "EACCES: invalid read from stack R2 off=-8 size=8", maps={"rb": RB}, privileged=False)

# --- bpf_spin_lock #93: where the lock is (process_spin_lock) -----------------------------------------------------
ARR16 = MapSpec(MapType.ARRAY, 4, 16)
SPIN = "mov %r1, %r0\ncall 93\n"
case("spin_lock_no_btf", LOOKUP_NN + SPIN + OUT, "EINVAL: map 'm' has to have BTF in order to use bpf_spin_lock",
     maps={"m": ARR})
case("spin_lock_or_null_no_btf", LOOKUP + SPIN + "mov %r0, 0\nexit",
     "EINVAL: map 'm' has to have BTF in order to use bpf_spin_lock", maps={"m": ARR})
case("spin_lock_scalar", "mov %r1, 0\ncall 93\nmov %r0, 0\nexit", "EACCES: R1 type=scalar expected=map_value, ptr_")
case("spin_lock_stack", "mov %r1, %r10\nadd %r1, -8\ncall 93\nmov %r0, 0\nexit",
     "EACCES: R1 type=fp expected=map_value, ptr_")
case("spin_lock_var_off", LOOKUP_NN + "ldxw %r1, [%r0+0]\nand %r1, 8\nadd %r0, %r1\n" + SPIN + OUT,
     "EINVAL: R1 doesn't have constant offset. bpf_spin_lock has to be at the constant offset", maps={"m": ARR16})
LOCKED = MapSpec(MapType.ARRAY, 4, 8, btf_value="locked")     # struct { int x; struct bpf_spin_lock lock; }
LOCKED_HASH = MapSpec(MapType.HASH, 4, 8, 4, btf_value="locked")
PAIR = MapSpec(MapType.ARRAY, 4, 8, btf_value="pair")          # struct { int a; int b; }
LOCK4 = "mov %r1, %r0\nadd %r1, 4\ncall 93\n"
UNLOCK6 = "mov %r1, %r6\nadd %r1, 4\ncall 94\n"
case("spin_lock_unlock_ok", LOOKUP_NN + "mov %r6, %r0\n" + LOCK4 + UNLOCK6 + OUT, "ok", maps={"m": LOCKED},
     prog_type=TC)
case("spin_lock_hash_ok", LOOKUP_NN + "mov %r6, %r0\n" + LOCK4 + UNLOCK6 + OUT, "ok", maps={"m": LOCKED_HASH},
     prog_type=TC)
case("spin_lock_no_lock_field", LOOKUP_NN + LOCK4 + OUT, "EINVAL: map 'm' has no valid bpf_spin_lock",
     maps={"m": PAIR}, prog_type=TC)
case("spin_lock_wrong_off", LOOKUP_NN + SPIN + OUT,
     "EINVAL: off 0 doesn't point to 'struct bpf_spin_lock' that is at 4", maps={"m": LOCKED}, prog_type=TC)
case("spin_lock_missing_unlock", LOOKUP_NN + LOCK4 + OUT,
     "EINVAL: BPF_EXIT instruction in main prog cannot be used inside bpf_spin_lock-ed region",
     maps={"m": LOCKED}, prog_type=TC)
case("spin_unlock_without_lock", LOOKUP_NN + "mov %r6, %r0\n" + UNLOCK6 + OUT,
     "EINVAL: bpf_spin_unlock without taking a lock", maps={"m": LOCKED}, prog_type=TC)
case("spin_lock_twice", LOOKUP_NN + "mov %r6, %r0\n" + LOCK4 + "mov %r0, %r6\n" + LOCK4 + OUT,
     "EINVAL: function calls are not allowed while holding a lock", maps={"m": LOCKED}, prog_type=TC)
case("spin_lock_helper_inside", LOOKUP_NN + "mov %r6, %r0\n" + LOCK4 + "call 7\n" + UNLOCK6 + OUT,
     "EINVAL: function calls are not allowed while holding a lock", maps={"m": LOCKED}, prog_type=TC)
case("spin_lock_subprog_inside", LOOKUP_NN + "mov %r6, %r0\n" + LOCK4 + "call local f\n" + UNLOCK6 + OUT
     + "f:\nmov %r0, 0\nexit", "ok", maps={"m": LOCKED}, prog_type=TC)
case("spin_lock_direct_read", LOOKUP_NN + "ldxw %r0, [%r0+4]\nexit\n" + OUT,
     "EACCES: bpf_spin_lock cannot be accessed directly by load/store", maps={"m": LOCKED}, prog_type=TC)
case("spin_lock_direct_write", LOOKUP_NN + "stw [%r0+4], 0\n" + OUT,
     "EACCES: bpf_spin_lock cannot be accessed directly by load/store", maps={"m": LOCKED}, prog_type=TC)
case("spin_lock_dw_overlaps_lock", LOOKUP_NN + "ldxdw %r0, [%r0+0]\nexit\n" + OUT,
     "EACCES: bpf_spin_lock cannot be accessed directly by load/store", maps={"m": LOCKED}, prog_type=TC)
case("spin_lock_other_field_ok", LOOKUP_NN + "ldxw %r0, [%r0+0]\nexit\n" + OUT, "ok", maps={"m": LOCKED},
     prog_type=TC)
case("btf_value_map_read_ok", LOOKUP_NN + "ldxw %r0, [%r0+0]\nexit\n" + OUT, "ok", maps={"m": PAIR}, prog_type=TC)
case("spin_lock_map_in_socket_filter", LOOKUP_NN + LOCK4 + OUT, "EINVAL: socket filter progs cannot use bpf_spin_lock yet",
     maps={"m": LOCKED})
case("spin_lock_map_in_kprobe", "lddw %r1, map:m\nmov %r0, 0\nexit", "EINVAL: tracing progs cannot use bpf_spin_lock yet",
     maps={"m": LOCKED}, prog_type=KPROBE)

# --- precision, pruning and range details found by fuzz-diff against 6.18 ------------------
# (whole logs, mark_precise lines included, are compared by test_verifier_reallog.py)
case("precision_into_parent_checkpoint",
     "ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nmov %r0, 0\nmov %r5, 0\nmov %r6, 0\nmov %r7, 0\nmov %r8, 0\n"
     "jgt %r3, 5, a\nmov %r0, 1\na: mov %r5, 1\njgt %r3, 6, b\nmov %r0, 2\nb: mov %r6, 1\nmov %r7, 1\n"
     "mov %r8, 1\nmov %r9, 1\njgt %r3, 7, c\nmov %r0, 3\nc: mov %r4, %r10\nadd %r4, -16\nand %r2, 7\n"
     "add %r4, %r2\nstb [%r4+0], 1\nexit", "ok")
case("fork_and_of_minus_one_or_zero", "call 8\nneg %r0\nand32 %r0, -1\nexit", "ok")
case("fork_or_after_arsh63", "mov %r0, 37\nmov %r7, 21\nsdiv %r0, %r0\nmul %r7, %r0\narsh %r7, 63\n"
     "or %r7, -996350957\nmov %r0, 0\nexit", "ok")
case("s32_range_from_s64_across_sign", "call 8\nneg %r0\njsge32 %r0, -1, +0\nexit", "ok")
case("jset_two_unknowns_undecided", "ldxw %r7, [%r1+0]\nor %r7, 0x14\njset %r7, %r7, +0\nmov %r0, 0\nexit", "ok")
case("jset_const_either_side_forgets_ranges", "ldxw %r0, [%r1+16]\nmov %r7, -17\narsh32 %r0, 27\n"
     "jsgt %r0, 0x19, +0\njset %r7, %r0, +0\nmov %r0, 0\nexit", "ok")
case("le16_keeps_truncated_tnum", "ldxw %r7, [%r1+0]\nor %r7, -411922218\nle16 %r7\njsgt %r7, 0x30, +0\n"
     "mov %r0, 0\nexit", "ok")
case("narrow_fill_truncates_tnum", "ldxw %r7, [%r1+16]\nlsh32 %r7, 20\nstxdw [%r10-56], %r7\n"
     "ldxb %r0, [%r10-56]\njset %r0, 0x8, +0\nexit", "ok")
case("narrow_spill_of_wide_value", "ldxw %r0, [%r1+16]\nlsh %r0, 52\nstxw [%r10-24], %r0\n"
     "ldxw %r8, [%r10-24]\njle32 %r8, -4, +0\nmov %r0, 0\nexit", "ok")
case("narrow_spill_of_constant", "stw [%r10-8], 33\nldxb %r0, [%r10-8]\njne %r0, 0x21, +1\nmov %r0, 0\nexit", "ok")
case("jne_decided_by_low_halves", "mov %r7, 38\ncall 8\nneg32 %r0\njne %r0, %r7, +0\nexit", "ok")
case("linked_spill_narrowed_with_register", "mov %r6, %r1\nmov %r7, 37\nldxw %r2, [%r6+16]\n"
     "stxdw [%r10-8], %r2\njle %r7, %r2, +0\nldxw %r0, [%r10-8]\njsgt %r2, %r0, +0\nexit", "ok")
case("sub_all_differences_wrap", "mov %r0, 24\ndiv32 %r0, %r0\nlddw %r2, 0x1a02d5e53b49a8\njslt %r0, 0, +0\n"
     "lddw %r4, 0xe4736e8a77c39f05\nsub %r2, %r0\nmov32 %r5, %r4\njeq %r2, %r5, +0\nexit", "ok")
case("impossible_refinement_keeps_branch", "mov %r0, 21\nmov %r7, 38\nmod32 %r0, 1\nand %r7, %r0\n"
     "bswap16 %r7\njle %r7, %r0, +0\njle32 %r7, 0x39, +0\nexit", "ok")
case("same_register_jump_narrows_in_place", "call 8\njslt %r0, %r0, +0\nexit", "ok")
case("ptr_alu_sane_offset_before_operator", "mov %r0, 0x7fffffff\nmul %r0, %r10\nexit",
     "EINVAL: math between fp pointer and 2147483647 is not allowed")
case("ptr_alu_unbounded_before_bitwise", "ldxw %r0, [%r1+0]\nlsh %r0, 32\nxor %r0, %r10\nexit",
     "EINVAL: math between fp pointer and register with unbounded min value is not allowed")
# linked scalars with an offset (6.18 BPF_ADD_CONST: `id=1+4`)
case("linked_add_const_narrows_source", "ldxw %r2, [%r1+0]\nmov %r3, %r2\nadd %r3, 4\njgt %r3, 10, +2\n"
     "mov %r0, %r2\nmov %r0, %r3\nmov %r0, 0\nexit", "ok")
case("linked_add_const32", "ldxw %r2, [%r1+0]\nmov %r3, %r2\nadd32 %r3, -5\njgt32 %r3, 10, +2\n"
     "mov %r0, %r2\nmov %r0, %r3\nmov %r0, 0\nexit", "ok")
case("linked_sub_const_through_spill", "ldxw %r2, [%r1+0]\nmov %r3, %r2\nsub %r3, 8\nstxdw [%r10-8], %r3\n"
     "jlt %r2, 20, +2\nldxdw %r0, [%r10-8]\nmov %r0, %r2\nmov %r0, 0\nexit", "ok")
case("linked_add_const_bounds_stack_offset", "ldxw %r2, [%r1+0]\nand %r2, 0xff\nmov %r3, %r2\nadd %r3, 100\n"
     "mov %r4, %r10\nadd %r4, -512\njgt %r3, 300, +2\nadd %r4, %r2\nstb [%r4+0], 1\nmov %r0, 0\nexit", "ok")
case("linked_copy_of_offset_register_starts_new_link", "ldxw %r2, [%r1+0]\nmov %r3, %r2\nadd %r3, 4\n"
     "mov %r4, %r3\njgt %r2, 10, +3\nmov %r0, %r3\nmov %r0, %r4\nmov %r0, %r2\nmov %r0, 0\nexit", "ok")
# map-in-map: a lookup gives map_value_or_null; checked, it is the inner map (its template)
AOM = MapSpec(MapType.ARRAY_OF_MAPS, 4, 4, 1, inner=ARR)
INNER_LOOKUP = LOOKUP_NN + "mov %r1, %r0\nstw [%r10-8], 0\nmov %r2, %r10\nadd %r2, -8\ncall 1\n"
case("map_in_map_lookup_inner", INNER_LOOKUP + "jeq %r0, 0, out\nldxdw %r0, [%r0+0]\nexit\n" + OUT,
     "ok", maps={"m": AOM})
case("map_in_map_unchecked", LOOKUP + "mov %r1, %r0\nstw [%r10-8], 0\nmov %r2, %r10\nadd %r2, -8\ncall 1\n"
     "mov %r0, 0\nexit", "EACCES: R1 type=map_value_or_null expected=map_ptr", maps={"m": AOM})
# may_goto loops (6.18): the body is a path one level deeper; the loop ends at a repeated
# state of another depth; imprecise scalars are widened
MAY_GOTO = Insn(0xE5, 0, 0, 2, 0)
raw("may_goto_counter_loop", [Insn(0xB7, 0, 0, 0, 0), MAY_GOTO, Insn(0x07, 0, 0, 0, 1),
                              Insn(0x05, 0, 0, -3, 0), Insn(0x95, 0, 0, 0, 0)], "ok")
raw("may_goto_loop_spills", [Insn(0xB7, 1, 0, 0, 0), Insn(0xE5, 0, 0, 3, 0), Insn(0x07, 1, 0, 0, 1),
                             Insn(0x7B, 10, 1, -8, 0), Insn(0x05, 0, 0, -4, 0), Insn(0xB7, 0, 0, 0, 0),
                             Insn(0x95, 0, 0, 0, 0)], "ok")
raw("may_goto_loop_bounded_stack_index", [Insn(0xB7, 1, 0, 0, 0), Insn(0xE5, 0, 0, 6, 0), Insn(0x07, 1, 0, 0, 1),
                                          Insn(0x57, 1, 0, 0, 7), Insn(0xBF, 2, 10, 0, 0), Insn(0x07, 2, 0, 0, -8),
                                          Insn(0x0F, 2, 1, 0, 0), Insn(0x05, 0, 0, -7, 0), Insn(0xB7, 0, 0, 0, 0),
                                          Insn(0x95, 0, 0, 0, 0)], "ok")
# multiplication: 6.18's tnum_mul, 32-bit bounds of a 64-bit product, a second deduction pass
case("mul_bounds_both_halves", "ldxw %r9, [%r1+0]\nand %r9, 15\nmov32 %r7, -239\nmul %r7, %r9\n"
     "jgt %r7, 1, +1\nmov %r0, %r7\nmov %r0, 0\nexit", "ok")
case("mul_negative_then_unsigned_jump", "ldxw %r9, [%r1+0]\nand %r9, 15\nmov %r7, -18\nmul %r7, %r9\n"
     "jgt %r7, 1, +1\nmov %r0, %r7\nmov %r0, 0\nexit", "ok")
# more than 8192 pending branches: the push fails, 6.18 reports EFAULT with the count
raw("jump_sequence_too_complex", [Insn(0x61, 2, 1, 0, 0)] + [Insn(0x15, 2, 0, 0, k) for k in range(8200)]
    + [Insn(0xB7, 0, 0, 0, 0), Insn(0x95, 0, 0, 0, 0)], "EFAULT: The sequence of 8193 jumps is too complex.")
