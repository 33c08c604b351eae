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


def _agreement_module():
    import importlib.util
    import sys
    from pathlib import Path
    if "verifier_agreement" in sys.modules:
        return sys.modules["verifier_agreement"]
    path = Path(__file__).resolve().parents[2] / "bench" / "verifier_agreement.py"
    spec = importlib.util.spec_from_file_location("verifier_agreement", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["verifier_agreement"] = mod     # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_agreement_figure(real_kernel_available, record_property):
    """Verdict and first-error-line agreement over the whole suite, printed in the summary."""
    agr = _agreement_module().measure()
    record_property("verifier_agreement", agr.disagreements() + agr.notes + [agr.summary()])
    vk, vn = agr.verdicts
    assert vn >= 300, agr.summary()
    assert agr.verdict_rate >= 0.95, "\n".join(agr.disagreements() + [agr.summary()])
