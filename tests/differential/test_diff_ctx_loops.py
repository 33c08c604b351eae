"""Context access rules (harness/kernel/verifier/ctxaccess.py) against the running kernel
(harness/differential/ctxfuzz.py), and a table of rules the running kernel showed."""

import random

import pytest

from harness.differential.ctxfuzz import program, random_case, verdict
from harness.kernel import EmulatedKernel
from harness.uapi import ProgType

# (program type, offset, size, form, verdict on 6.18) -- one row per rule worth keeping
RULES = [
    (ProgType.SCHED_CLS, 180, 1, "ldx", "loaded"),                       # tstamp_type
    (ProgType.SOCKET_FILTER, 144, 8, "ldx", "EACCES"),                   # flow_keys: dissector only
    (ProgType.FLOW_DISSECTOR, 144, 8, "ldx", "loaded"),
    (ProgType.FLOW_DISSECTOR, 0, 4, "ldx", "EACCES"),                    # len: not for the dissector
    (ProgType.SK_SKB, 8, 4, "ldx", "EACCES"),                            # mark
    (ProgType.SK_SKB, 32, 4, "stx", "loaded"),                           # priority is writable
    (ProgType.CGROUP_SKB, 160, 4, "ldx", "EACCES"),                      # wire_len
    (ProgType.CGROUP_SKB, 152, 8, "stx", "loaded"),                      # tstamp, CAP_BPF
    (ProgType.CGROUP_SKB, 92, 2, "ldx", "EACCES"),                       # remote_ip4: whole word only
    (ProgType.CGROUP_SKB, 92, 4, "ldx", "loaded"),
    (ProgType.LWT_SEG6LOCAL, 8, 4, "stx", "loaded"),                     # mark, as the other lwt types
]


@pytest.mark.parametrize("prog_type, off, size, form, want", RULES,
                         ids=[f"{r[0].name.lower()}-{r[3]}{r[2]}-{r[1]}" for r in RULES])
def test_diff_ctx_rule(prog_type, off, size, form, want):
    got = verdict(EmulatedKernel(), prog_type, program(off, size, form, 1))
    assert got.split(":")[0] == want


def test_diff_ctx_cases_are_deterministic():
    assert [random_case(random.Random(f"ctx:{i}")) for i in range(50)] == \
        [random_case(random.Random(f"ctx:{i}")) for i in range(50)]


@pytest.mark.realkernel
def test_diff_ctx_agrees_with_running_kernel():
    from harness.realkernel import RealKernel, probe
    from harness.realkernel.fuzz import emulated_like, fuzz_ctx
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    with RealKernel() as real:
        diffs = fuzz_ctx(real, emulated_like(real), 400, 1)
    assert [d.detail for d in diffs] == []


@pytest.mark.realkernel
def test_diff_loops_agree_with_running_kernel():
    """harness/differential/loopfuzz.py: bounded loops (verdict, processed count, retval)."""
    from harness.realkernel import RealKernel, probe
    from harness.realkernel.fuzz import emulated_like, fuzz_loops
    avail = probe()
    if not avail.ok:
        pytest.skip(f"running kernel not usable: {avail.reason}")
    with RealKernel() as real:
        diffs = fuzz_loops(real, emulated_like(real), 300, 1000)
    assert [d.detail for d in diffs] == []


def test_diff_loop_programs_terminate_on_the_emulated_kernel():
    from harness.differential.loopfuzz import observe, random_loop_program
    k = EmulatedKernel()
    outcomes = [observe(k, random_loop_program(random.Random(f"loops:{i}")))[0] for i in range(40)]
    assert outcomes.count("loaded") == 40
