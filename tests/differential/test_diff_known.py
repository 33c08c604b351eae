"""Fuzz expectations (harness.differential.known): a known class is counted, an unknown
disagreement is reported and minimised, a class that never matched is reported unused,
counterfactual classes match only when the rewrite removes the difference, and a bad
file is a one-line ConfigError.  Two emulated kernels with injected differences, so this
runs everywhere."""

import pytest

from harness.differential import known
from harness.differential.fuzz import KernelPair, fuzz
from harness.differential.observe import Difference
from harness.errors import ConfigError
from harness.isa import opcodes as o
from harness.isa.insn import Insn, decode
from harness.kernel import EmulatedKernel, KernelConfig
from harness.kernelapi import BpfError

SEED, COUNT = "t1", 14


def has(op):
    return lambda insns: any(o.is_alu(i) and o.op(i.code) == op for i in insns)


class RefusingKernel(EmulatedKernel):
    """Refuses programs with a multiplication (EACCES) or an xor (EPERM): two injected causes."""

    def prog_load(self, attr):
        insns = decode(attr.insns)
        if has(o.BPF_MUL)(insns):
            raise BpfError(13, "injected: no mul", log="injected: no mul\n")
        if has(o.BPF_XOR)(insns):
            raise BpfError(1, "injected: no xor", log="injected: no xor\n")
        return super().prog_load(attr)


def pair() -> KernelPair:
    config = lambda: KernelConfig(nr_cpus=2)                      # noqa: E731
    return KernelPair(lambda: EmulatedKernel(config()), lambda: RefusingKernel(config()), [0, 1])


def write(tmp_path, text):
    path = tmp_path / "known.toml"
    path.write_text(text)
    return path


MUL_CLASS = '''
[[difference]]
id = "injected-mul"
field = "verdict"
real = "EACCES: injected: no mul"
reason = "the test kernel refuses multiplications"
'''
UNUSED_CLASS = '''
[[difference]]
id = "never"
field = "message"
real = "^nothing says this$"
reason = "matches nothing here"
'''


@pytest.fixture(scope="module")
def baseline():
    return fuzz(pair(), SEED, count=COUNT, max_reproducers=0)


def test_diff_known_class_is_counted_and_unknown_reported(tmp_path, baseline):
    classes = known.load(write(tmp_path, MUL_CLASS + UNUSED_CLASS))
    rep = fuzz(pair(), SEED, count=COUNT, minimise_limit=40, max_reproducers=3, known=classes)
    assert rep.disagree == baseline.disagree > 0
    assert rep.known.get("injected-mul", 0) > 0, "no program with a mul: pick another seed"
    assert rep.unexplained == rep.disagree - rep.known_total > 0, "no xor-only program: pick another seed"
    assert rep.disagreements, "unexplained disagreements are minimised and reported"
    for d in rep.disagreements:
        assert "no xor" in d.differences[0].real and not has(o.BPF_MUL)(d.program.insns)
    assert rep.unused == ["never"]
    assert "unused classes: never" in rep.summary() and f"unexplained {rep.unexplained}" in rep.summary()


def test_diff_known_without_classes_everything_is_unexplained(baseline):
    assert baseline.unexplained == baseline.disagree and baseline.known == {}


@pytest.mark.parametrize("diff, insns, expect", [
    (Difference("verdict", "loaded", "EACCES: injected: no mul"), [], True),
    (Difference("verdict", "loaded", "EPERM: injected: no xor"), [], False),      # real text differs
    (Difference("processed", "4", "3"), [], False),                                # field differs
])
def test_diff_known_static_match(tmp_path, diff, insns, expect):
    classes = known.load(write(tmp_path, MUL_CLASS))
    assert (known.classify(classes, [diff], insns, None) is not None) is expect


@pytest.mark.parametrize("first, expect", [
    (Difference("verdict", "loaded", "EACCES: injected: no mul"), ["injected-mul"]),   # maps follow from it
    (Difference("processed", "4", "3"), None),                                        # nothing explains either
])
def test_diff_known_map_differences_follow_an_explained_verdict(tmp_path, first, expect):
    classes = known.load(write(tmp_path, MUL_CLASS))
    diffs = [first, Difference("map fz_hash", "[00000000]=01", "[00000000]=absent")]
    assert known.classify(classes, diffs, [], None) == expect


REWRITE_CLASS = '''
[[difference]]
id = "div"
field = "processed"
vanishes_when = "div_as_mod"
reason = "test"
'''


@pytest.mark.parametrize("after_rewrite, expect", [([], ["div"]), ([Difference("processed", "5", "6")], None)])
def test_diff_known_counterfactual_decides(tmp_path, after_rewrite, expect):
    classes = known.load(write(tmp_path, REWRITE_CLASS))
    div = [Insn(o.BPF_ALU64 | o.BPF_DIV, 0, imm=3), Insn(o.BPF_JMP | o.BPF_EXIT)]
    seen = []

    def recheck(insns):
        seen.append(insns)
        return after_rewrite
    assert known.classify(classes, [Difference("processed", "5", "6")], div, recheck) == expect
    assert seen and o.op(seen[0][0].code) == o.BPF_MOD          # the rewrite was applied
    assert known.classify(classes, [Difference("processed", "5", "6")], div, None) is None


@pytest.mark.parametrize("text, fragment", [
    ('[[difference]]\nid = "a"\nfield = "processed"\n', "missing ['reason']"),
    ('[[difference]]\nid = "a"\nreason = "r"\nfield = "speed"\n', "field 'speed'"),
    ('[[difference]]\nid = "a"\nreason = "r"\nfield = "map"\nrequires = ["nope"]\n', "unknown feature"),
    ('[[difference]]\nid = "a"\nreason = "r"\nfield = "map"\nreal = "("\n', "bad regular expression"),
    ('[[difference]]\nid = "a"\nreason = "r"\nfield = "map"\ncolour = 1\n', "unknown keys"),
    (MUL_CLASS + MUL_CLASS, "duplicate id"),
    ("[[difference]\n", "known.toml"),
])
def test_diff_known_bad_file(tmp_path, text, fragment):
    with pytest.raises(ConfigError, match=None) as info:
        known.load(write(tmp_path, text))
    assert fragment in str(info.value) and "known.toml" in str(info.value)


def test_diff_known_shipped_file_loads_and_every_class_has_a_reason():
    # the shipped file may hold no class at all (everything found so far is fixed)
    classes = known.load()
    assert isinstance(classes, tuple) and all(len(c.reason) > 40 for c in classes)
    assert len({c.id for c in classes}) == len(classes)


@pytest.mark.parametrize("name", sorted(known.REWRITES))
def test_diff_known_rewrites_keep_length_and_jumps(name):
    from harness.differential.gen import generate
    for i in range(30):
        insns = list(generate(3, i).insns)
        out = known.REWRITES[name](insns)
        assert len(out) == len(insns)
        assert [(x.off, o.is_jump(x)) for x in out] == [(x.off, o.is_jump(x)) for x in insns]
