"""Differential check: every suite program the running kernel can load as root gets the
same verdict, errno and reason line there as from our verifier (skipped without bpf(2))."""

import pytest

from harness.isa import encode
from harness.kernelapi import BpfError, ProgLoadAttr
from tests.verifier.suite import CASES
from tests.verifier.vutil import Prog, build

REAL = [c for c in CASES if c.privileged and c.real and c.log_level]


@pytest.fixture(scope="module")
def real_kernel_available():
    from harness.realkernel import probe
    avail = probe()
    if not avail:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    return True


@pytest.mark.parametrize("c", REAL, ids=[c.name for c in REAL])
def test_agrees_with_running_kernel(c, real_kernel_available):
    from harness.realkernel import RealKernel
    with RealKernel() as k:
        insns = build(Prog(c.text, c.raw, c.prog_type, c.maps, c.license), k)
        attr = ProgLoadAttr(c.prog_type, encode(insns), c.license, log_level=1, log_size=1 << 22)
        try:
            k.prog_load(attr)
            got = "ok"
        except BpfError as e:
            got = f"{e.errno_name}: {e.message}"
    assert got == c.expect
