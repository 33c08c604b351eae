"""The ISA conformance suite on the running kernel agrees with our VM.

Each case is wrapped as an XDP program (harness.differential.conformance); the test
reports how many ran on the kernel and agreed, and why the others did not run.  The
wrapper itself is also checked without bpf(2): its shape, and on the emulated kernel."""

import pytest

from harness.differential.conformance import SUITE_DIR, run_suite, skip_reason, wrap
from harness.isa import opcodes as o
from harness.isa.conformance import parse_case
from harness.realkernel import probe

AVAILABLE = probe()
needs_suite = pytest.mark.skipif(not SUITE_DIR.is_dir(), reason=f"conformance suite not found at {SUITE_DIR}")


@pytest.mark.parametrize("text, reason", [
    ("-- asm\nmov %r1, 0\ncall 5\nexit\n", "calls helper 5"),
    ("-- asm\nmov %r2, 5\ncall %r2\nexit\n", "uses callx"),
    ("-- asm\nexit\n-- error\nboom\n", "expects an error"),
    ("-- asm\nmov %r0, 1\nexit\n", ""),
])
def test_diff_conformance_skip_reasons(text, reason):
    got = skip_reason(parse_case(text))
    assert got.startswith(reason) if reason else got == ""


@pytest.mark.parametrize("vehicle", ["packet", "map"])
def test_diff_conformance_wrap_shape(vehicle):
    case = parse_case("-- asm\nldxb %r0, [%r1+1]\njeq %r0, 0, l\nexit\nl:\nmov %r0, 7\nexit\n"
                      "-- mem\n00 05\n-- result\n5\n")
    insns = wrap(case, vehicle, result_fd=11, mem_fd=12)
    exits = [k for k, i in enumerate(insns) if o.is_exit(i)]
    assert len(exits) == (2 if vehicle == "packet" else 1)        # epilogue (+ bounds failure)
    # the body's jump still reaches `mov r0, 7`, now two slots after its goto-epilogue
    jeq = next(k for k, i in enumerate(insns) if i.code == o.BPF_JMP | o.BPF_JEQ)
    assert insns[jeq + 1 + insns[jeq].off] == o.Insn(o.BPF_ALU64 | o.BPF_MOV, 0, imm=7)


@needs_suite
@pytest.mark.skipif(not AVAILABLE.ok, reason=f"kernel BPF oracle unavailable: {AVAILABLE.reason}")
def test_diff_conformance_suite_on_running_kernel(record_property):
    from harness.realkernel import RealKernel
    report = run_suite(RealKernel)
    record_property("conformance_real_kernel", report.summary())
    print(report.summary())
    print(report.reasons())
    bad = [f"{c.name}: {c.detail}" for c in report.outcomes if c.status in ("disagree", "error")]
    assert not bad, bad[:5]
    assert report.ran > len(report.outcomes) // 2, report.summary()
    assert all(c.detail for c in report.outcomes if c.status in ("skip", "rejected"))


SIMPLE = ("add", "mov", "lddw", "stxdw", "ldxb", "jeq-imm", "call_local", "mem-len")


@needs_suite
def test_diff_conformance_wrapped_on_emulated_kernel(record_property):
    """The same wrapped programs on the emulated kernel (verifier, fixups and VM behind the
    Kernel protocol), without bpf(2): every case gets an outcome (a crashing kernel is
    recorded, not raised), the counts add up, and simple cases agree with the bare VM."""
    from harness.kernel import EmulatedKernel
    report = run_suite(lambda: EmulatedKernel(nr_cpus=2))
    record_property("conformance_emulated_kernel", report.summary())
    print(report.summary(), report.reasons())
    assert len(report.outcomes) == len(list(SUITE_DIR.glob("*.data")))
    assert sum(report.count(s) for s in ("agree", "disagree", "skip", "rejected", "error")) == len(report.outcomes)
    by_name = {c.name: c for c in report.outcomes}
    assert [n for n in SIMPLE if by_name[n].status != "agree"] == [], [by_name[n].detail for n in SIMPLE]
