"""The loaded program object (the kernel's struct bpf_prog + bpf_prog_aux, the parts we use).

It holds the *xlated* program: the slots after resolution and fixups, which is what the
VM runs and what BPF_OBJ_GET_INFO_BY_FD reports.  `aux` stays index-aligned with `insns`
(fixups.patch_insn keeps it so): aux[i].map / aux[i].map_off say what an ld_imm64 at i
refers to, which is how the VM resolves map pointers and per-CPU cookies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.isa import Insn, encode
from harness.kernel.progload import InsnAux
from harness.uapi import (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX, BPF_PSEUDO_MAP_IDX_VALUE,
                          BPF_PSEUDO_MAP_VALUE)

LD_IMM64 = 0x18


@dataclass
class BpfProg:
    id: int
    prog_type: int
    expected_attach_type: int
    name: str
    insns: list[Insn]
    aux: list[InsnAux]
    used_maps: list[Any]
    gpl_compatible: bool
    subprog_starts: list[int] = field(default_factory=lambda: [0])
    func_info: list[tuple[int, int]] = field(default_factory=list)
    line_info: list[tuple[int, int, int, int]] = field(default_factory=list)
    verified_insns: int = 0
    jit_required: bool = False
    jited: bool = False
    prog_flags: int = 0
    btf: Any = None
    #: the verifier's per-subprogram stack depths (for the VM's frame sizes)
    stack_depth: list[int] = field(default_factory=list)
    #: furthest context byte the program reads (fixups.max_ctx_offset)
    max_ctx_offset: int = 0
    #: R0 at the main program's exits as verified (progload.ScalarRange), when the kernel's
    #: record_exit_r0 asked for it (soundness cross-checks, tests/verifier)
    exit_r0: list = field(default_factory=list)

    def xlated_dump(self) -> bytes:
        """The program as bpf_prog_info.xlated_prog_insns shows it (bpf_insn_prepare_dump):
        map loads are reported by map *id* -- MAP_FD/MAP_IDX as src 1 with imm = id,
        MAP_VALUE/MAP_IDX_VALUE as src 2 with imm = id and the value offset in the second
        slot's imm.  Everything else, including inserted percpu movs, as executed."""
        out = list(self.insns)
        for i, insn in enumerate(out):
            if insn.code != LD_IMM64 or i + 1 >= len(out):
                continue
            bpf_map = self.aux[i].map
            if bpf_map is None:
                continue
            if insn.src in (BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX):
                out[i] = insn.replace(src=BPF_PSEUDO_MAP_FD, imm=bpf_map.id)
                out[i + 1] = out[i + 1].replace(imm=0)
            elif insn.src in (BPF_PSEUDO_MAP_VALUE, BPF_PSEUDO_MAP_IDX_VALUE):
                out[i] = insn.replace(src=BPF_PSEUDO_MAP_VALUE, imm=bpf_map.id)
                out[i + 1] = out[i + 1].replace(imm=self.aux[i].map_off)
        return encode(out)
