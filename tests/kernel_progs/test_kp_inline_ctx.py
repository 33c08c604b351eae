"""`__sk_buff` / `xdp_md` field accesses in the xlated program take 6.18's struct sk_buff /
xdp_buff form (harness/kernel/ctxconv.py) while the VM keeps running the access of our
context layout.
Compared with the running kernel field by field and register pattern (skipped with the
reason where bpf(2) is unavailable); the emulated-only part checks a few forms and that
programs still read the same values."""

from __future__ import annotations

import pytest

from harness import kernelapi
from harness.isa import Insn, decode, encode
from harness.isa.disasm import disasm
from harness.kernel import EmulatedKernel
from harness.kernel.ctxconv import SKB_LOADS, SKB_STORES, XDP_LOADS
from harness.kernel.progtypes import SK_BUFF, XDP_MD
from harness.kernelapi import BpfError, ProgLoadAttr
from harness.uapi import ProgType
from kp_asm import EXIT, MOV64_IMM, MOV64_REG

SIZES = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}
TYPES = (ProgType.SCHED_CLS, ProgType.SOCKET_FILTER, ProgType.CGROUP_SKB)
REGS = ((2, 1), (5, 3), (1, 1))         # (dst, src): src is a copy of the context in r3


def _prog(off: int, size: int, dst: int, src: int, store: bool = False) -> list[Insn]:
    """A load of the field into `dst` from the context in `src` (r1 or its copy in r3), or
    a store of `dst` (holding 7) into it."""
    access = Insn(0x63 | SIZES[size], src, dst, off, 0) if store else Insn(0x61 | SIZES[size], dst, src, off, 0)
    return [MOV64_REG(3, 1), MOV64_IMM(2, 7), MOV64_IMM(5, 7), access, MOV64_IMM(0, 0), EXIT()]


def _name(layout, off):
    return next(n for n, f in layout.fields.items() if f.off <= off < f.off + f.size)


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


CASES = ([(t, off, size, regs, False) for t in TYPES for (off, size) in SKB_LOADS for regs in REGS]
         + [(t, off, size, regs, True) for t in TYPES for (off, size) in SKB_STORES for regs in REGS[:2]]
         + [(ProgType.XDP, off, size, regs, False) for (off, size) in XDP_LOADS for regs in REGS]
         + [(t, foff + sub, size, (2, 1), False) for t in TYPES for (foff, fsize) in SKB_LOADS if fsize == 4
            for size, subs in ((1, (0, 1, 2, 3)), (2, (0, 2))) for sub in subs])


@pytest.mark.realkernel
@pytest.mark.parametrize("prog_type, off, size, regs, store", CASES,
                         ids=[f"{t.name.lower()}-{'st' if st else 'ld'}{s}-"
                              f"{_name(XDP_MD if t == ProgType.XDP else SK_BUFF, o)}{o}-r{d}r{r}"
                              for t, o, s, (d, r), st in CASES])
def test_field_access_same_as_running_kernel(real, prog_type, off, size, regs, store):
    insns = _prog(off, size, *regs, store=store)
    emulated, running = _xlated(EmulatedKernel(), prog_type, insns), _xlated(real, prog_type, insns)
    if isinstance(emulated, str) != isinstance(running, str):
        verdicts = [v if isinstance(v, str) else "loads" for v in (emulated, running)]
        pytest.skip(f"the verifiers disagree on this access (emulated {verdicts[0]}, running {verdicts[1]}): "
                    "harness/kernel/verifier's concern")
    assert emulated == running


def _texts(lines):
    return [ln.split(": ", 1)[1] for ln in lines]


@pytest.mark.parametrize("prog_type, off, store, texts", [
    (ProgType.SCHED_CLS, 0, False, ["(61) r2 = *(u32 *)(r1 +112)"]),
    (ProgType.SCHED_CLS, 40, False, ["(79) r2 = *(u64 *)(r1 +16)", "(61) r2 = *(u32 *)(r2 +224)"]),
    (ProgType.SOCKET_FILTER, 40, False, ["(79) r2 = *(u64 *)(r1 +16)", "(15) if r2 == 0x0 goto pc+1",
                                         "(61) r2 = *(u32 *)(r2 +224)"]),
    (ProgType.SCHED_CLS, 76, False, ["(79) r2 = *(u64 *)(r1 +200)"]),
    (ProgType.SCHED_CLS, 20, False, ["(61) r2 = *(u32 *)(r1 +152)", "(15) if r2 == 0x0 goto pc+1", "(b4) w2 = 1"]),
    (ProgType.SCHED_CLS, 8, True, ["(63) *(u32 *)(r1 +164) = r2"]),
    (ProgType.SCHED_CLS, 12, True, ["(35) if r2 >= 0xffff goto pc+1", "(6b) *(u16 *)(r1 +124) = r2"]),
    (ProgType.XDP, 4, False, ["(79) r2 = *(u64 *)(r1 +8)"]),
])
def test_field_access_forms(prog_type, off, store, texts):
    got = _texts(_xlated(EmulatedKernel(), prog_type, _prog(off, 4, 2, 1, store=store)))
    assert got[3:3 + len(texts)] == texts


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


def test_field_stores_still_write_our_context():
    """A converted store of `mark` still lands in the context test_run hands back."""
    k = EmulatedKernel()
    prog = [MOV64_IMM(2, 0x55), Insn(0x63, 1, 2, 8, 0), MOV64_IMM(0, 0), EXIT()]
    fd = k.prog_load(ProgLoadAttr(ProgType.SCHED_CLS, encode(prog), license="GPL")).fd
    out = k.prog_test_run(fd, kernelapi.TestRunAttr(data_in=PKT, ctx_in=bytes(SK_BUFF.size)))
    assert SK_BUFF.get(bytearray(out.ctx_out), "mark") == 0x55


# a static function reading the context it was handed, from two call sites
SUBPROG_CTX = [MOV64_REG(6, 1), Insn(0x85, 0, 1, 0, 4), MOV64_REG(7, 0), MOV64_REG(1, 6), Insn(0x85, 0, 1, 0, 1),
               EXIT(), Insn(0x61, 0, 1, 0, 0), EXIT()]


def test_ctx_load_in_a_callee():
    """The callee's load converts too: every call passes the context in r1."""
    got = _texts(_xlated(EmulatedKernel(), ProgType.SCHED_CLS, SUBPROG_CTX))
    assert got[6] == "(61) r0 = *(u32 *)(r1 +112)"
    k = EmulatedKernel()
    fd = k.prog_load(ProgLoadAttr(ProgType.SCHED_CLS, encode(SUBPROG_CTX), license="GPL")).fd
    assert k.prog_test_run(fd, kernelapi.TestRunAttr(data_in=PKT)).retval == 64


@pytest.mark.realkernel
def test_ctx_load_in_a_callee_same_as_running_kernel(real):
    assert _xlated(EmulatedKernel(), ProgType.SCHED_CLS, SUBPROG_CTX) == _xlated(real, ProgType.SCHED_CLS, SUBPROG_CTX)


@pytest.mark.parametrize("name, prog", [
    # a may_goto (rewritten into a call) before the context load
    ("may_goto_first", [Insn(0xE5, 0, 0, 1, 0), MOV64_IMM(0, 1), Insn(0x61, 2, 1, 0, 0), MOV64_IMM(0, 0), EXIT()]),
    # a call in dead code joining the live path before the load
    ("dead_call", [MOV64_IMM(2, 100), Insn(0x65, 2, 0, 1, 63), Insn(0x85, 0, 0, 0, 5), Insn(0x61, 2, 1, 0, 0),
                   MOV64_IMM(0, 0), EXIT()]),
])
def test_max_ctx_offset_sees_loads_past_rewrites(name, prog):
    """raw_tp refuses a missing ctx_in when the program reads the context (max_ctx_offset,
    taken from the program as verified), instead of faulting in the VM."""
    k = EmulatedKernel()
    fd = k.prog_load(ProgLoadAttr(ProgType.RAW_TRACEPOINT, encode(prog), license="GPL")).fd
    with pytest.raises(BpfError) as e:
        k.prog_test_run(fd, kernelapi.TestRunAttr())
    assert e.value.errno_name == "EINVAL"
    assert k.prog_test_run(fd, kernelapi.TestRunAttr(ctx_in=bytes(8))).retval == 0
