"""The data a program load carries from bpf(2) through the verifier to the fixups.

Pipeline of ProgCommands.prog_load (harness/kernel/progcmds.py):
  decode attr.insns (harness.isa) -> resolve pseudo ld_imm64 (map fds/values, spec §3.2)
  -> harness.kernel.verifier.verify(ctx) -> fixups (harness/kernel/fixups.py: percpu mov,
  helper inlining) -> the program object the VM runs.
The verifier reads a LoadContext and may add per-instruction facts to `aux`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.isa import Insn
from harness.kernel.core import KernelConfig
from harness.kernelapi import ProgLoadAttr


@dataclass
class InsnAux:
    """Per-slot facts (the kernel's bpf_insn_aux_data, the parts we need)."""
    map: Any = None          # the BpfMap an ld_imm64 refers to (MAP_FD/IDX/VALUE/IDX_VALUE)
    map_off: int = 0         # byte offset for MAP_VALUE / MAP_IDX_VALUE
    seen: bool = False       # reached by the verifier (dead code elimination)
    extra: dict = field(default_factory=dict)  # verifier-private annotations


@dataclass
class LoadContext:
    config: KernelConfig
    attr: ProgLoadAttr
    insns: list[Insn]                 # slot-indexed, ld_imm64 already resolved
    aux: list[InsnAux]                # len(aux) == len(insns)
    used_maps: list[Any]              # BpfMap objects, in first-use order
    btf: Any = None                   # the program's BTF (kernel object from attr.prog_btf_fd) or None
    kernel: Any = None                # the EmulatedKernel (for fd lookups: prog_array, inner maps)


@dataclass
class VerifyResult:
    """What a successful verification reports.  A rejection raises kernelapi.BpfError
    with the kernel's errno, the first error line as `message` and the whole `log`."""
    log: str
    processed: int
    max_states_per_insn: int = 0
    total_states: int = 0
    peak_states: int = 0
    mark_read: int = 0
    stack_depth: list[int] = field(default_factory=list)   # per subprogram
    subprog_starts: list[int] = field(default_factory=list)
