"""The one BPF instruction model, shared by the loader, verifier, VM, assembler and
disassembler.  Nothing else in the project decodes instruction bytes.

Modules: insn (slot model, decode/encode), opcodes (opcode tables and predicates),
validate (reserved-field checks with kernel wording), disasm (verifier-log syntax),
asm (conformance-suite assembly syntax), conformance (the suite's test-file reader).
"""

from harness.isa.insn import Insn, decode, encode, InsnFormatError, ld_imm64_value  # noqa: F401
from harness.isa.validate import InsnValidationError, check_insn, validate  # noqa: F401
from harness.isa.disasm import disasm, disasm_insn  # noqa: F401
from harness.isa.asm import AsmError, assemble, format_asm  # noqa: F401
