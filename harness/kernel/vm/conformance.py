"""Running BPF conformance-suite cases (harness.isa.conformance) on our VM.

The suite's calling convention (README in /work/shared/conformance): r1 = address of the
input memory, r2 = its length, r10 = top of a 512-byte stack; helper 5 returns its first
argument and, when that is 0, stops the program with r0 = 0; callx calls the helper whose
id is in the register.  `check_case` raises ConformanceMismatch when the outcome differs
from the file's expectation, so a negative file is "rejected" either by the reader (bad
syntax, reserved fields) or here (wrong expected value).
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.isa.conformance import ConformanceCase
from harness.kernel.vm.machine import Vm
from harness.kernel.vm.memory import Memory

CONFORMANCE_BUDGET = 10_000_000


class ConformanceMismatch(HarnessError):
    """The program ran (or failed) differently from what the test file expects."""


def _helper5(vm: Vm) -> int:
    value = vm.arg(1)
    if value == 0:
        vm.stop(0)
    return value


def run_case(case: ConformanceCase) -> int:
    """r0 of the case's program; raises VmFault/VmError if it fails."""
    mem = Memory()
    data = bytearray(case.mem)
    base = mem.add(data, kind="packet", name="mem")
    with Vm(mem, helpers={5: _helper5}, budget=CONFORMANCE_BUDGET) as vm:
        return vm.run(case.insns, r1=base, r2=len(data)).r0


def check_case(case: ConformanceCase) -> int:
    """Run and compare with the expectation; returns r0."""
    try:
        r0 = run_case(case)
    except HarnessError as exc:
        if case.error is not None and case.error and case.error in str(exc):
            return 0
        if case.error is not None:
            raise ConformanceMismatch(f"{case.name}: expected error '{case.error}', got '{exc}'") from None
        raise ConformanceMismatch(f"{case.name}: {exc}") from None
    if case.error is not None:
        raise ConformanceMismatch(f"{case.name}: expected error '{case.error}', got r0=0x{r0:x}")
    if r0 != case.result:
        raise ConformanceMismatch(f"{case.name}: r0=0x{r0:x}, expected 0x{case.result:x}")
    return r0
