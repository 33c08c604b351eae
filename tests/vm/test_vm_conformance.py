"""The public BPF conformance suite on our VM: v4, every group, callx included.

The terminal summary (tests/vm/conftest.py) prints 'BPF conformance: N/313'.
"""

from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.isa.conformance import load_case
from harness.kernel.vm.conformance import check_case

SUITE = Path("/work/shared/conformance/bpf_conformance")
TESTS = sorted((SUITE / "tests").glob("*.data"))
NEGATIVE = sorted((SUITE / "negative").glob("*.data"))
EXPECTED_COUNT = 313


def test_suite_is_complete():
    assert len(TESTS) == EXPECTED_COUNT


@pytest.mark.parametrize("path", TESTS, ids=[p.stem for p in TESTS])
def test_file(path):
    case = load_case(path)
    r0 = check_case(case)
    assert r0 == (case.result if case.error is None else 0)


@pytest.mark.parametrize("path", NEGATIVE, ids=[p.stem for p in NEGATIVE])
def test_negative_file_rejected(path):
    """Every negative file fails cleanly: in the reader or as a result mismatch."""
    with pytest.raises(HarnessError) as exc:
        check_case(load_case(path))
    assert path.stem in str(exc.value) or str(path) in str(exc.value)
