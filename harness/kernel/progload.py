"""The data a program load carries from bpf(2) through the verifier to the fixups.

Pipeline of ProgCommands.prog_load (harness/kernel/progcmds.py):
  decode attr.insns (harness.isa) -> resolve pseudo ld_imm64 (map fds/values, spec §3.2)
  -> harness.kernel.verifier.verify(ctx) -> fixups (harness/kernel/fixups.py: percpu mov,
  helper inlining) -> the program object the VM runs.
The verifier reads a LoadContext and may add per-instruction facts to `aux`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

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
    #: record R0's abstract value at every reached main-program exit (VerifyResult.exit_r0);
    #: also makes R0 precise at those exits so that state pruning cannot drop a distinct value
    record_exit_r0: bool = False


class ScalarRange(NamedTuple):
    """A scalar's abstract value (bpf_reg_state bounds + var_off), for soundness checks:
    every concrete value the register can hold at that point must be `contains`-ed."""
    value: int
    mask: int
    umin: int
    umax: int
    smin: int
    smax: int
    u32min: int
    u32max: int
    s32min: int
    s32max: int

    def contains(self, x: int) -> bool:
        x &= (1 << 64) - 1
        sx = x - (1 << 64) if x >> 63 else x
        lo = x & 0xFFFFFFFF
        slo = lo - (1 << 32) if lo >> 31 else lo
        return ((x & ~self.mask) & ((1 << 64) - 1)) == self.value and self.umin <= x <= self.umax \
            and self.smin <= sx <= self.smax and self.u32min <= lo <= self.u32max \
            and self.s32min <= slo <= self.s32max

    def contains_u32(self, x: int) -> bool:
        """For a 32-bit truncated result (test_run's retval): the low-half facts only."""
        lo = x & 0xFFFFFFFF
        slo = lo - (1 << 32) if lo >> 31 else lo
        return (lo & ~self.mask & 0xFFFFFFFF) == self.value & 0xFFFFFFFF \
            and self.u32min <= lo <= self.u32max and self.s32min <= slo <= self.s32max


#: R0 at an exit where it holds a pointer (privileged programs may return one): anything
UNKNOWN_RANGE = ScalarRange(0, (1 << 64) - 1, 0, (1 << 64) - 1, -(1 << 63), (1 << 63) - 1,
                            0, 0xFFFFFFFF, -(1 << 31), (1 << 31) - 1)


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
    #: distinct R0 values at main-program exits (only with LoadContext.record_exit_r0)
    exit_r0: list[ScalarRange] = field(default_factory=list)
