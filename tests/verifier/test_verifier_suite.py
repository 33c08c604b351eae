"""Every program of the suite gets the kernel's verdict, errno and first error line."""

import pytest

from tests.verifier.suite import CASES
from tests.verifier.vutil import Prog, load


def _prog(c):
    return Prog(c.text, c.raw, c.prog_type, c.maps, c.license, func_info=c.func_info)


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_suite_case(c):
    if c.pipeline_diff:
        pytest.xfail(c.pipeline_diff)
    out = load(_prog(c), privileged=c.privileged, log_level=c.log_level)
    if c.ok:
        assert out.ok, f"rejected: {out.errno} {out.message}\n{out.log}"
    else:
        assert not out.ok, f"accepted, expected {c.expect}"
        assert (out.errno, out.message) == (c.errno, c.message), out.log


def test_suite_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
