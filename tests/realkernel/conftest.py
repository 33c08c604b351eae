"""Fixtures for the real-kernel backend's tests.

`kernel` is a RealKernel that closes every fd it created when the test ends; it skips the
test, with the probe's reason, where bpf(2) is unavailable (any test that does not need
the running kernel simply does not use it)."""

import pytest

from harness.realkernel import RealKernel
from harness.realkernel.availability import probe


@pytest.fixture
def kernel():
    available = probe()
    if not available.ok:
        pytest.skip(f"kernel BPF oracle unavailable: {available.reason}")
    with RealKernel() as k:
        yield k
