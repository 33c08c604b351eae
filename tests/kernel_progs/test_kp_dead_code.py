"""Dead code is neutralised after verification, as the kernel's sanitize_dead_code does."""

from harness.isa import Insn, encode
from harness.kernel import EmulatedKernel
from harness.kernel.fixups import DEAD_CODE_TRAP, Xlated, sanitize_dead_code
from harness.kernel.progload import InsnAux
from harness.kernelapi import ProgLoadAttr, TestRunAttr
from harness.uapi import ProgType

# r0 = 23; r7 = 10; if r0 >= r7 goto +1; r10 = 0 (dead: refused on a live path); exit
DEAD_R10_WRITE = [
    Insn(0xB7, dst=0, imm=23),
    Insn(0xB7, dst=7, imm=10),
    Insn(0x3D, dst=0, src=7, off=1),
    Insn(0xB7, dst=10, imm=0),
    Insn(0x95),
]


def test_dead_write_to_frame_pointer_loads_and_runs():
    try:
        from harness.kernel.verifier import verify  # noqa: F401
    except ImportError:
        import pytest
        pytest.skip("needs the verifier to mark reached instructions")
    k = EmulatedKernel()
    res = k.prog_load(ProgLoadAttr(ProgType.SOCKET_FILTER, encode(DEAD_R10_WRITE)))
    out = k.prog_test_run(res.fd, TestRunAttr(data_in=bytes(64)))
    assert out.retval == 23


def test_sanitize_replaces_only_unseen_slots():
    insns = list(DEAD_R10_WRITE)
    aux = [InsnAux(seen=i != 3) for i in range(len(insns))]
    x = Xlated(insns, aux, [0], [], [])
    assert sanitize_dead_code(x) == 1
    assert x.insns[3] == DEAD_CODE_TRAP
    assert x.insns[:3] == DEAD_R10_WRITE[:3] and x.insns[4] == DEAD_R10_WRITE[4]


def test_sanitize_is_a_no_op_without_a_verifier_pass():
    x = Xlated(list(DEAD_R10_WRITE), [InsnAux() for _ in DEAD_R10_WRITE], [0], [], [])
    assert sanitize_dead_code(x) == 0
    assert x.insns == DEAD_R10_WRITE
