"""Scalar tracking that must match the running 6.18 kernel: bpf_get_smp_processor_id's range,
unknown DIV/MOD and unsafe-shift results (no ALU32 zero extension), a tnum/u64 range with a
single common value, and byte swaps of a tnum.  Expected logs and counts were taken from
6.18 at log level 2 (2 possible CPUs)."""

from __future__ import annotations

import pytest

from harness.isa import Insn, encode
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernelapi import ProgLoadAttr

CALL_SMP, CALL_PRANDOM, EXIT = Insn(0x85, imm=8), Insn(0x85, imm=7), Insn(0x95)
SMP_RANGE = "R0=scalar(smin=smin32=0,smax=umax=smax32=umax32=1,var_off=(0x0; 0x1))"

CASES = [
    ("smp-id-range", [CALL_SMP, Insn(0x55, dst=0, imm=5), EXIT], 3, SMP_RANGE),
    ("same-reg-jlt", [CALL_SMP, Insn(0xad, dst=0, src=0), EXIT], 4, "from 1 to 2: R0=1 "),
    ("single-value", [CALL_PRANDOM, Insn(0x57, dst=0, imm=4), Insn(0x25, dst=0, imm=1, off=1),
                      Insn(0xb7, dst=0, imm=0), EXIT], 6, "from 2 to 4: R0=4 "),
    ("div-const-unknown", [Insn(0xb7, dst=0, imm=20), Insn(0x37, dst=0, imm=15),
                           Insn(0x55, dst=0, imm=1, off=1), Insn(0xb7, dst=0, imm=0), EXIT], 6,
     "(37) r0 /= 15                      ; R0=scalar()\n"),
    ("alu32-shift-no-zext", [Insn(0xb7, dst=0, imm=-42), Insn(0xb7, dst=7, imm=-1),
                             Insn(0x6c, dst=0, src=7), Insn(0x7d, dst=0, src=7, off=1),
                             Insn(0xb7, dst=7, imm=1), EXIT], 7, "(6c) w0 <<= w7                     ; R0=scalar() R7=-1\n"),
    ("be16-tnum", [CALL_SMP, Insn(0x07, dst=0, imm=0x100), Insn(0xdc, dst=0, imm=16), EXIT], 4,
     "R0=scalar(smin=umin=smin32=umin32=1,smax=umax=smax32=umax32=257,var_off=(0x1; 0x100))"),
]


@pytest.mark.parametrize("name,insns,processed,log_part", CASES, ids=[c[0] for c in CASES])
def test_ranges_match_618(name, insns, processed, log_part):
    k = EmulatedKernel(KernelConfig(nr_cpus=2, privileged=True))
    res = k.prog_load(ProgLoadAttr(prog_type=1, insns=encode(insns), log_level=2))
    assert f"processed {processed} insns" in res.log
    assert log_part in res.log
