"""The expectation matcher (test_loader semantics)."""

import pytest

from harness.kernel.verifier.expect import (
    compile_pattern, match_lines, match_msgs, match_retval, match_verdict, msg_items, xlated_text,
)

LOG = """0: R1=ctx() R10=fp0
0: (b7) r0 = 42                       ; R0=42
1: (95) exit
R3 points to percpu_array map which cannot be used as const string
processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0
"""


@pytest.mark.parametrize("items,problems", [
    ([("msg", "r0 = 42")], 0),
    ([("msg", "R{{[0-9]+}} points to percpu_array map which cannot be used as const string")], 0),
    ([("msg", "R{{[[:digit:]]+}} points to")], 0),
    ([("msg", "exit"), ("msg", "r0 = 42")], 1),              # order matters
    ([("msg", "r0 = 42"), ("msg", "exit")], 0),
    ([("msg", "nothing like this")], 1),
    ([("msg", "r0 = 42"), ("not_msg", "R1=ctx"), ("msg", "exit")], 0),   # R1=ctx is before
    ([("not_msg", "R1=ctx"), ("msg", "exit")], 1),
    ([("msg", "exit"), ("not_msg", "processed")], 1),
    ([("msg", "a.b")], 1),                                     # literal dot outside {{ }}
    ([("msg", "{{a.b|R0=4.}}")], 0),
])
def test_match_msgs(items, problems):
    assert len(match_msgs(LOG, items)) == problems


def test_bad_pattern_is_reported_not_raised():
    assert match_msgs(LOG, [("msg", "{{(}}")])[0].startswith("bad pattern")
    assert match_msgs(LOG, [("msg", "{{abc")])[0].startswith("bad pattern")


XL = xlated_text(["0: (18) r1 = 0xffff", "2: (bf) r1 = &(void __percpu *)(r1)", "3: (b7) r0 = 0",
                  "4: (95) exit"])


@pytest.mark.parametrize("patterns,ok", [
    (["r1 = &(void __percpu *)(r1)", "r0 = 0"], True),
    (["r1 = &(void __percpu *)(r1)", "exit"], False),
    (["r1 = &(void __percpu *)(r1)", "...", "exit"], True),
    (["{{[0-9]+}}: r0 = 0"], True),
    (["(bf)"], False),
])
def test_match_lines(patterns, ok):
    assert (match_lines(XL, patterns) == []) is ok


def test_msg_items_follow_tag_order():
    tags = ["test_expect_failure", "test_expect_msg=a", "test_expect_not_msg=b", "test_expect_msg=c",
            "test_expect_msg_unpriv=u"]
    assert msg_items(tags, [], []) == [("msg", "a"), ("not_msg", "b"), ("msg", "c")]
    assert msg_items(tags, [], [], unpriv=True) == [("msg", "u")]
    assert msg_items([], ["x"], ["y"]) == [("msg", "x"), ("not_msg", "y")]


def test_retval_and_verdict():
    assert match_retval(3, 3) == [] and match_retval(3, 4) != []
    assert match_retval(0xBADCAFE, 17) == []
    assert match_retval(-1, 0xFFFFFFFF) == []
    assert match_verdict(False, True) == ["unexpected_load_success"]
    assert match_verdict(True, False) == ["unexpected_load_failure"]
    assert match_verdict(None, False) == []


def test_compile_pattern_escapes_literals():
    assert compile_pattern("(u64 *)").search("*(u64 *)(r10 -8)")
