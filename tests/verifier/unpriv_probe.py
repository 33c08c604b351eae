"""Run the suite's CAP_BPF-only programs on the running kernel; print JSON verdicts.

Executed by test_verifier_realkernel.py under `setpriv` with CAP_PERFMON and CAP_SYS_ADMIN
dropped (the mode of running-kernel.md §1 "Verdicts depend on privilege")."""

import json
import sys

from harness.isa import encode
from harness.kernelapi import BpfError, ProgLoadAttr
from harness.realkernel import RealKernel
from tests.verifier.suite import CASES
from tests.verifier.vutil import Prog, build

out = {}
for c in CASES:
    if c.privileged or not c.real or not c.log_level:
        continue
    with RealKernel() as k:
        try:
            insns = build(Prog(c.text, c.raw, c.prog_type, c.maps, c.license), k)
        except BpfError as e:
            out[c.name] = f"setup: {e}"
            continue
        attr = ProgLoadAttr(c.prog_type, encode(insns), c.license, log_level=1, log_size=1 << 22)
        try:
            k.prog_load(attr)
            out[c.name] = "ok"
        except BpfError as e:
            out[c.name] = f"{e.errno_name}: {e.message}"
json.dump(out, sys.stdout)
