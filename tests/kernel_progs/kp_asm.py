"""Tiny instruction builders for the kernel_progs tests (kernel macro names, filter.h style)."""

from __future__ import annotations

from harness.isa import Insn
from harness.uapi import BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE

SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}


def MOV64_IMM(dst, imm):
    return Insn(0xB7, dst, 0, 0, imm)


def MOV64_REG(dst, src):
    return Insn(0xBF, dst, src, 0, 0)


def ALU64_IMM(op, dst, imm):
    return Insn(0x07 | op, dst, 0, 0, imm)


def ALU64_REG(op, dst, src):
    return Insn(0x0F | op, dst, src, 0, 0)


ADD, MUL = 0x00, 0x20


def LDX_MEM(size, dst, src, off):
    return Insn(0x61 | SIZES[size], dst, src, off, 0)


def STX_MEM(size, dst, src, off):
    return Insn(0x63 | SIZES[size], dst, src, off, 0)


def ST_MEM(size, dst, off, imm):
    return Insn(0x62 | SIZES[size], dst, 0, off, imm)


def CALL(helper_id):
    return Insn(0x85, 0, 0, 0, helper_id)


def EXIT():
    return Insn(0x95)


def JEQ_IMM(dst, imm, off):
    return Insn(0x15, dst, 0, off, imm)


def JGT_REG(dst, src, off):
    return Insn(0x2D, dst, src, off, 0)


def JA(off):
    return Insn(0x05, 0, 0, off, 0)


def LD_MAP_FD(dst, fd):
    return [Insn(0x18, dst, BPF_PSEUDO_MAP_FD, 0, fd), Insn(0)]


def LD_MAP_VALUE(dst, fd, off):
    return [Insn(0x18, dst, BPF_PSEUDO_MAP_VALUE, 0, fd), Insn(0, 0, 0, 0, off)]


def LD_FUNC(dst, rel):
    return [Insn(0x18, dst, BPF_PSEUDO_FUNC, 0, rel), Insn(0)]


def RET(imm):
    return [MOV64_IMM(0, imm), EXIT()]


def _s32(v):
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >> 31 else v


def LD_IMM64(dst, value):
    return [Insn(0x18, dst, 0, 0, _s32(value)), Insn(0, 0, 0, 0, _s32(value >> 32))]
