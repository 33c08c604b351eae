"""RealKernel offers every Kernel protocol method with the protocol's parameters."""

import inspect

import pytest

from harness.kernelapi import Kernel
from harness.realkernel import RealKernel

METHODS = sorted(name for name, member in vars(Kernel).items()
                 if callable(member) and not name.startswith("_"))


def test_is_a_kernel():
    assert isinstance(RealKernel(), Kernel) and RealKernel.name == "real"


@pytest.mark.parametrize("name", METHODS)
def test_signature_matches_protocol(name):
    ours = inspect.signature(getattr(RealKernel, name)).parameters
    theirs = inspect.signature(getattr(Kernel, name)).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == \
        [(p.name, p.kind, p.default) for p in theirs.values()]
