"""Random programs never crash the verifier (only BpfError escapes) and never hang."""

import random

import pytest

from harness.isa import Insn, encode
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernelapi import BpfError, ProgLoadAttr

CODES = [0x07, 0x0F, 0x17, 0x1F, 0x27, 0xB7, 0xBF, 0xB4, 0xBC, 0x57, 0x5F, 0x67, 0x77, 0xC7, 0x87,
         0x61, 0x69, 0x71, 0x79, 0x62, 0x7A, 0x63, 0x7B, 0xDB, 0xC3, 0x05, 0x15, 0x1D, 0x25, 0x2D, 0x35,
         0x55, 0x5D, 0xA5, 0xAD, 0x16, 0x85, 0x95, 0x18, 0x20, 0xD4, 0xDC, 0xD7, 0x34, 0x94]


def _random_prog(rng: random.Random) -> list[Insn]:
    out = []
    for _ in range(rng.randint(1, 24)):
        code = rng.choice(CODES)
        dst, src = rng.randrange(11), rng.randrange(11)
        off = rng.choice([0, 0, 1, 2, -1, -8, -16, 4, 8, rng.randint(-40, 40)])
        imm = rng.choice([0, 1, 8, 16, 32, 64, -1, 255, rng.randint(-2**31, 2**31 - 1), rng.randint(0, 220)])
        if code == 0x18:
            out += [Insn(code, dst, 0, 0, imm), Insn(0)]
            continue
        if code == 0x85:
            src = rng.choice([0, 0, 1])
            dst = off = 0
        if code == 0xDB or code == 0xC3:
            imm = rng.choice([0x00, 0x01, 0x40, 0x41, 0xE1, 0xF1, 0x50, 0xA0])
        out.append(Insn(code, dst, src, off, imm))
    if rng.random() < 0.9:
        out += [Insn(0xB7, 0, 0, 0, 0), Insn(0x95)]
    return out


@pytest.mark.parametrize("seed", range(20))
def test_random_programs_only_raise_bpf_errors(seed):
    rng = random.Random(seed)
    for n in range(40):
        prog = _random_prog(rng)
        k = EmulatedKernel(KernelConfig(privileged=bool(n % 2)))
        attr = ProgLoadAttr(rng.choice([1, 3, 6, 2, 17]), encode(prog), "GPL", log_level=rng.choice([0, 1, 2]),
                            log_size=0 if False else (1 << 20))
        if attr.log_level == 0:
            attr.log_size = 0
        try:
            k.prog_load(attr)
        except BpfError as e:
            assert e.errno > 0 and e.errno != 14, f"seed {seed} prog {n}: {e}\n{prog}"
