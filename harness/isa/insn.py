"""A BPF instruction slot and its 8-byte encoding (RFC 9669 §3).

    byte 0      byte 1        bytes 2-3     bytes 4-7
    +--------+--------------+-------------+----------------+
    | opcode | src:4 | dst:4 | offset s16  | immediate s32  |
    +--------+--------------+-------------+----------------+

Little-endian only (bpfel).  A wide instruction (ld_imm64, opcode 0x18) occupies two
slots; the second slot has opcode 0 and carries the upper 32 bits of the immediate in its
imm field.  Like the kernel, the model keeps programs as lists of *slots*: jump offsets,
func_info and line_info all count slots, so indices here equal the kernel's insn indices.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from harness.errors import FormatError

INSN_SIZE = 8
_S = struct.Struct("<BBhi")


class InsnFormatError(FormatError):
    """Instruction bytes that cannot be decoded (bad length, truncated ld_imm64, ...)."""


@dataclass(frozen=True, slots=True)
class Insn:
    """One 8-byte instruction slot: opcode byte, registers, signed offset, signed imm."""
    code: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    @property
    def cls(self) -> int:
        return self.code & 0x07

    def encode(self) -> bytes:
        return _S.pack(self.code, (self.src << 4) | self.dst, self.off, self.imm)

    def replace(self, **changes) -> "Insn":
        fields = {"code": self.code, "dst": self.dst, "src": self.src, "off": self.off, "imm": self.imm}
        fields.update(changes)
        return Insn(**fields)


def decode(data: bytes, *, where: str = "program") -> list[Insn]:
    """Split raw bytes into instruction slots.  Raises InsnFormatError naming `where`."""
    if len(data) % INSN_SIZE:
        raise InsnFormatError(f"{where}: length {len(data)} is not a multiple of {INSN_SIZE}")
    out = []
    for code, regs, off, imm in _S.iter_unpack(data):
        out.append(Insn(code, regs & 0x0F, regs >> 4, off, imm))
    return out


def encode(insns: list[Insn]) -> bytes:
    return b"".join(i.encode() for i in insns)


def ld_imm64_value(first: Insn, second: Insn) -> int:
    """The 64-bit immediate of a wide instruction, as an unsigned integer."""
    return ((second.imm & 0xFFFFFFFF) << 32) | (first.imm & 0xFFFFFFFF)
