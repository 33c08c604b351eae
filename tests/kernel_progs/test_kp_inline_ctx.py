"""`__sk_buff` field loads in the xlated program take 6.18's struct sk_buff form
(harness/kernel/ctxconv_skb.py) while the VM keeps running the load of our context layout.
Compared with the running kernel field by field and register pattern (skipped with the
reason where bpf(2) is unavailable); the emulated-only part checks a few forms and that
programs still read the same values."""

from __future__ import annotations

import pytest

from harness import kernelapi
from harness.isa import Insn, decode, encode
from harness.isa.disasm import disasm
from harness.kernel import EmulatedKernel
from harness.kernel.ctxconv_skb import SKB_LOADS
from harness.kernelapi import BpfError, ProgLoadAttr
from harness.uapi import ProgType
from kp_asm import EXIT, MOV64_IMM, MOV64_REG

SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
TYPES = (ProgType.SCHED_CLS, ProgType.SOCKET_FILTER, ProgType.CGROUP_SKB)
REGS = ((2, 1), (5, 3), (1, 1))         # (dst, src): src is a copy of the context in r3


def _prog(off: int, size: int, dst: int, src: int) -> list[Insn]:
    return [MOV64_REG(3, 1), Insn(0x61 | SIZES[size], dst, src, off, 0), MOV64_IMM(0, 0), EXIT()]


def _xlated(k, prog_type, insns):
    try:
        fd = k.prog_load(ProgLoadAttr(prog_type, encode(insns), license="GPL")).fd
    except BpfError as e:
        return e.errno_name
    try:
        return disasm(decode(k.prog_get_info(fd).xlated))
    finally:
        k.close(fd)


@pytest.fixture(scope="module")
def real():
    from harness.realkernel import RealKernel, probe
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    return RealKernel()


CASES = [(t, off, size, regs) for t in TYPES for (off, size) in SKB_LOADS for regs in REGS]


@pytest.mark.realkernel
@pytest.mark.parametrize("prog_type, off, size, regs", CASES,
                         ids=[f"{t.name.lower()}-{SKB_LOADS[(o, s)][0]}{o}-r{d}r{r}" for t, o, s, (d, r) in CASES])
def test_field_load_same_as_running_kernel(real, prog_type, off, size, regs):
    insns = _prog(off, size, *regs)
    emulated, running = _xlated(EmulatedKernel(), prog_type, insns), _xlated(real, prog_type, insns)
    if isinstance(emulated, str) != isinstance(running, str):
        pytest.skip(f"the verifiers disagree on this access (emulated {emulated if isinstance(emulated, str) else 'loads'}, "
                    f"running {running if isinstance(running, str) else 'loads'}): harness/kernel/verifier's concern")
    assert emulated == running


@pytest.mark.parametrize("prog_type, off, lines", [
    (ProgType.SCHED_CLS, 0, ["1: (61) r2 = *(u32 *)(r1 +112)"]),
    (ProgType.SCHED_CLS, 40, ["1: (79) r2 = *(u64 *)(r1 +16)", "2: (61) r2 = *(u32 *)(r2 +224)"]),
    (ProgType.SOCKET_FILTER, 40, ["1: (79) r2 = *(u64 *)(r1 +16)", "2: (15) if r2 == 0x0 goto pc+1",
                                  "3: (61) r2 = *(u32 *)(r2 +224)"]),
    (ProgType.SCHED_CLS, 76, ["1: (79) r2 = *(u64 *)(r1 +200)"]),
    (ProgType.SCHED_CLS, 20, ["1: (61) r2 = *(u32 *)(r1 +152)", "2: (15) if r2 == 0x0 goto pc+1",
                              "3: (b4) w2 = 1"]),
])
def test_field_load_forms(prog_type, off, lines):
    got = _xlated(EmulatedKernel(), prog_type, _prog(off, 4, 2, 1))
    assert got[1:1 + len(lines)] == lines


PKT = bytes(range(14)) + bytes(50)


@pytest.mark.parametrize("prog_type, off, want", [
    (ProgType.SCHED_CLS, 0, 64), (ProgType.SOCKET_FILTER, 0, 50),       # len (after the L2 pull)
    (ProgType.SCHED_CLS, 40, 1),                                          # ifindex: loopback
    (ProgType.SCHED_CLS, 16, 0x0D0C),                                     # protocol, as stored
])
def test_field_loads_still_read_our_context(prog_type, off, want):
    k = EmulatedKernel()
    prog = [Insn(0x61, 0, 1, off, 0), EXIT()]
    fd = k.prog_load(ProgLoadAttr(prog_type, encode(prog), license="GPL")).fd
    assert k.prog_test_run(fd, kernelapi.TestRunAttr(data_in=PKT)).retval == want
