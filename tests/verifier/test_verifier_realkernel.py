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


UNPRIV = [c for c in CASES if not c.privileged and c.real and c.log_level]


@pytest.fixture(scope="module")
def unpriv_verdicts(real_kernel_available):
    """One subprocess with CAP_PERFMON / CAP_SYS_ADMIN dropped runs every CAP_BPF-only case."""
    import json
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv not installed: cannot drop capabilities")
    root = Path(__file__).resolve().parents[2]
    cmd = ["setpriv", "--inh-caps=-perfmon,-sys_admin", "--bounding-set=-perfmon,-sys_admin",
           sys.executable, "-m", "tests.verifier.unpriv_probe"]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"cannot run with reduced capabilities: {proc.stderr.strip()[-200:]}")
    return json.loads(proc.stdout)


@pytest.mark.parametrize("c", UNPRIV, ids=[c.name for c in UNPRIV])
def test_unpriv_agrees_with_running_kernel(c, unpriv_verdicts):
    assert unpriv_verdicts[c.name] == c.expect
