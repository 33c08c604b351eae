"""Agreement of our verifier with the running kernel's on the conformance suite.

    python bench/verifier_agreement.py [--min-verdicts 0.95] [--no-unpriv]

Every suite program (tests/verifier/suite.py) the running kernel can load is verified
twice: by the emulated kernel and by bpf(2).  Compared are the verdict (accept / reject)
and, where both reject, the errno plus first error line.  Programs the running kernel lacks
a feature for (`real=False`) are left out and counted.  CAP_BPF-only programs are replayed
on the kernel through tests/verifier/unpriv_probe.py under `setpriv` (capabilities dropped),
because the verdict depends on privilege.  Prints one summary line and every disagreement;
exits 1 when verdict agreement is below --min-verdicts, 2 when bpf(2) is not usable.
The pytest run of tests/verifier prints the same summary line (tests/verifier/conftest.py).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.isa import encode  # noqa: E402
from harness.kernelapi import BpfError, ProgLoadAttr  # noqa: E402
from tests.verifier.suite import CASES, Case  # noqa: E402
from tests.verifier.vutil import Prog, build, load  # noqa: E402


@dataclass
class Row:
    name: str
    ours: str           # "ok" or "ERRNO: first error line"
    kernel: str

    @property
    def verdict_agrees(self) -> bool:
        return (self.ours == "ok") == (self.kernel == "ok")

    @property
    def both_reject(self) -> bool:
        return self.ours != "ok" and self.kernel != "ok"


@dataclass
class Agreement:
    rows: list[Row] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)     # case names the kernel cannot load
    notes: list[str] = field(default_factory=list)

    @property
    def verdicts(self) -> tuple[int, int]:
        return sum(r.verdict_agrees for r in self.rows), len(self.rows)

    @property
    def error_lines(self) -> tuple[int, int]:
        rej = [r for r in self.rows if r.both_reject]
        return sum(r.ours == r.kernel for r in rej), len(rej)

    @property
    def verdict_rate(self) -> float:
        k, n = self.verdicts
        return k / n if n else 0.0

    def summary(self) -> str:
        (vk, vn), (lk, ln) = self.verdicts, self.error_lines
        pct = lambda a, b: f"{100.0 * a / b:.1f}%" if b else "n/a"  # noqa: E731
        return (f"verifier agreement with the running kernel: verdicts {vk}/{vn} ({pct(vk, vn)}), "
                f"error lines {lk}/{ln} ({pct(lk, ln)}); {len(self.skipped)} suite programs need "
                f"features the running kernel lacks")

    def disagreements(self) -> list[str]:
        out = []
        for r in self.rows:
            if not r.verdict_agrees:
                out.append(f"verdict  {r.name}: ours {r.ours!r}, kernel {r.kernel!r}")
            elif r.both_reject and r.ours != r.kernel:
                out.append(f"message  {r.name}: ours {r.ours!r}, kernel {r.kernel!r}")
        return out


def ours(c: Case) -> str:
    out = load(Prog(c.text, c.raw, c.prog_type, c.maps, c.license), privileged=c.privileged,
               log_level=c.log_level)
    return "ok" if out.ok else f"{out.errno}: {out.message}"


def kernel_verdict(c: Case) -> str:
    from harness.realkernel import RealKernel
    with RealKernel() as k:
        insns = build(Prog(c.text, c.raw, c.prog_type, c.maps, c.license), k)
        attr = ProgLoadAttr(c.prog_type, encode(insns), c.license, log_level=1, log_size=1 << 22)
        try:
            k.prog_load(attr)
            return "ok"
        except BpfError as e:
            return f"{e.errno_name}: {e.message}"


def unpriv_kernel_verdicts() -> dict[str, str] | str:
    """Verdicts of the CAP_BPF-only cases, or the reason they cannot be had."""
    if shutil.which("setpriv") is None:
        return "setpriv not installed"
    cmd = ["setpriv", "--inh-caps=-perfmon,-sys_admin", "--bounding-set=-perfmon,-sys_admin",
           sys.executable, "-m", "tests.verifier.unpriv_probe"]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run with reduced capabilities: {exc}"
    if proc.returncode != 0:
        return f"cannot run with reduced capabilities: {proc.stderr.strip()[-200:]}"
    return json.loads(proc.stdout)


def measure(unpriv: bool = True) -> Agreement:
    """Compare every suite program the running kernel can load (caller checked bpf(2))."""
    agr = Agreement()
    priv = [c for c in CASES if c.privileged and c.real and c.log_level]
    low = [c for c in CASES if not c.privileged and c.real and c.log_level]
    agr.skipped = [c.name for c in CASES if not c.real]
    agr.notes += [f"{c.name}: log_level 0 case (failing-path log too big to compare)"
                  for c in CASES if c.real and not c.log_level]
    for c in priv:
        agr.rows.append(Row(c.name, ours(c), kernel_verdict(c)))
    if unpriv and low:
        got = unpriv_kernel_verdicts()
        if isinstance(got, str):
            agr.notes.append(f"{len(low)} CAP_BPF-only programs not compared: {got}")
        else:
            agr.rows += [Row(c.name, ours(c), got[c.name]) for c in low if c.name in got]
    return agr


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--min-verdicts", type=float, default=0.95)
    ap.add_argument("--no-unpriv", action="store_true", help="skip the CAP_BPF-only replay")
    args = ap.parse_args(argv)
    from harness.realkernel import probe
    avail = probe()
    if not avail:
        print(f"running kernel not usable: {avail.reason}")
        return 2
    agr = measure(unpriv=not args.no_unpriv)
    for line in agr.disagreements() + agr.notes:
        print(line)
    print(agr.summary())
    return 0 if agr.verdict_rate >= args.min_verdicts else 1


if __name__ == "__main__":
    sys.exit(main())
