"""The fuzzing framework itself: determinism, counts, and minimisation of an injected
disagreement.  Two emulated kernels are compared, one of them refusing every program with
a multiplication, so these tests run everywhere and do not depend on how far the emulated
verifier has come; one test repeats the count checks against the running kernel."""

import pytest

from harness.differential.fuzz import KernelPair, differences, fuzz, minimise
from harness.differential.gen import generate
from harness.differential.progedit import delete, encode_units, to_units
from harness.isa import opcodes as o
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernelapi import BpfError
from harness.realkernel import probe

AVAILABLE = probe()
SEED, COUNT, LIMIT = "t1", 14, 80


def has_mul(insns) -> bool:
    return any(o.is_alu(i) and o.op(i.code) == o.BPF_MUL for i in insns)


class MulRefusingKernel(EmulatedKernel):
    """An emulated kernel with one injected difference: no multiplications."""

    def prog_load(self, attr):
        from harness.isa.insn import decode
        if has_mul(decode(attr.insns)):
            raise BpfError(13, "injected: no multiplication", log="injected: no multiplication\n")
        return super().prog_load(attr)


def pair() -> KernelPair:
    config = lambda: KernelConfig(nr_cpus=2)                      # noqa: E731
    return KernelPair(lambda: EmulatedKernel(config()), lambda: MulRefusingKernel(config()), [0, 1])


@pytest.fixture(scope="module")
def report():
    return fuzz(pair(), SEED, count=COUNT, minimise_limit=LIMIT, max_reproducers=2)


def test_diff_fuzz_generation_is_deterministic():
    assert [generate(5, i) for i in range(20)] == [generate(5, i) for i in range(20)]
    assert generate(5, 3) != generate(6, 3)
    assert all(p.insns[-1] == o.Insn(o.BPF_JMP | o.BPF_EXIT) for p in (generate(5, i) for i in range(20)))


def test_diff_fuzz_counts_add_up(report):
    assert report.programs == COUNT
    assert report.agree + report.disagree == COUNT
    assert report.both_accepted + report.both_rejected + report.only_emulated_accepted \
        + report.only_real_accepted == COUNT
    assert sum(report.by_field.values()) == report.disagree
    assert report.disagree > 0, "the injected difference was never hit: pick another seed"


def test_diff_fuzz_disagreements_are_the_injected_ones(report):
    for i in range(COUNT):
        prog = generate(SEED, i)
        if not has_mul(prog.insns):
            assert not differences(pair(), prog)[0], f"program {i} has no mul but differs"


def test_diff_fuzz_reproducer_is_minimal(report):
    assert report.disagreements
    for d in report.disagreements:
        repro = d.reproducer
        key = d.differences[0].key
        assert has_mul(repro.insns) and len(repro.insns) <= len(d.program.insns)
        assert any(x.key == key for x in differences(pair(), repro)[0])
        if d.evaluations < LIMIT:                 # 1-minimal: no single unit can go
            units = to_units(list(repro.insns))
            for k in range(len(units)):
                smaller = repro.with_insns(encode_units(delete(units, {k})))
                assert not any(x.key == key for x in differences(pair(), smaller)[0]), (k, d.disassembly())


def test_diff_fuzz_is_deterministic_for_a_seed(report):
    again = fuzz(pair(), SEED, count=COUNT, minimise_limit=LIMIT, max_reproducers=2)
    strip = lambda r: r.summary().split(" s: ", 1)[1]               # noqa: E731 - drop the timing
    assert strip(again) == strip(report)
    assert [d.reproducer.insns for d in again.disagreements] == [d.reproducer.insns for d in report.disagreements]


def test_diff_fuzz_minimise_on_a_predicate():
    prog = generate(SEED, 0)
    alu = [u.first for u in to_units(list(prog.insns)) if o.is_alu(u.first)]
    target = alu[len(alu) // 2]
    small, evals = minimise(prog, lambda p: target in p.insns)
    assert small.insns == (target,)
    assert 0 < evals < 200


@pytest.mark.skipif(not AVAILABLE.ok, reason=f"kernel BPF oracle unavailable: {AVAILABLE.reason}")
def test_diff_fuzz_against_running_kernel():
    from harness.differential.kernels import emulated_like, runnable_cpus
    from harness.realkernel import RealKernel
    with RealKernel() as real:
        p = KernelPair(lambda: emulated_like(real), RealKernel, runnable_cpus(real))
        rep = fuzz(p, 11, count=20, max_reproducers=1, minimise_limit=40)
    assert rep.programs == 20 and rep.agree + rep.disagree == 20
    assert rep.both_accepted + rep.both_rejected + rep.only_emulated_accepted + rep.only_real_accepted == 20
    assert rep.both_accepted + rep.only_real_accepted > 0      # the generator's programs mostly verify
    print(rep.summary())
