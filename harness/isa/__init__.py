"""The one BPF instruction model, shared by the loader, verifier, VM, assembler and
disassembler.  Nothing else in the project decodes instruction bytes."""

from harness.isa.insn import Insn, decode, encode, InsnFormatError  # noqa: F401
