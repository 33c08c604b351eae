"""Expectations: version specifiers, xfail / xpass / fail judgement, config errors."""

import pytest

from harness.errors import ConfigError
from harness.expectations import find, judge, load_expectations

CASE = "percpu/percpu_onebyte"
SIG = "backend: unable to write nop sequence of N bytes"


@pytest.mark.parametrize("version,applies", [
    ("15.0.7", False), ("16.0.6", True), ("17.0.6", True), ("18.1.6", False), ("22.1.8", False), (None, False),
])
def test_percpu_crash_range(version, applies):
    e = find(load_expectations(), CASE, "compile", "*", "clangX", version)
    assert (e is not None) == applies
    if e:
        assert e.id == "llvm-129437" and e.signature == SIG


def test_judge():
    e = find(load_expectations(), CASE, "compile", "*", "clang17", "17.0.6")
    assert judge("fail", "crash", SIG, "crash", e)[0::2] == ("xfail", "llvm-129437")
    assert judge("pass", "ok", "", "compiled", e)[0] == "xpass"
    assert judge("fail", "error", "syntax error", "", e)[0] == "fail"
    assert judge("fail", "crash", "backend: something else", "", e)[0] == "fail"
    assert judge("skip", "missing", "", "missing", e)[0] == "skip"
    assert judge("fail", "crash", SIG, "", None) == ("fail", "", None)


@pytest.mark.parametrize("body,msg", [
    ("[[expect]]\nid='x'\ncase='c'\nstage='compile'\noutcome='crash'\n", "lacks versions"),
    ("[[expect]]\nid='x'\ncase='c'\nstage='compile'\noutcome='crash'\nversions='>>16'\n", "bad version specifier"),
    ("[[expect]\n", "invalid TOML"),
])
def test_bad_expectations_file(tmp_path, body, msg):
    p = tmp_path / "e.toml"
    p.write_text(body)
    with pytest.raises(ConfigError, match=msg):
        load_expectations(p)
