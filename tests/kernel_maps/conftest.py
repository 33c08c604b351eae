"""Fixtures for the emulated kernel's map layer: a kernel and a map factory."""

from __future__ import annotations

import pytest

from harness.kernel import EmulatedKernel
from harness.kernelapi import MapCreateAttr


@pytest.fixture
def kernel():
    return EmulatedKernel(nr_cpus=4)


@pytest.fixture
def make_map(kernel):
    def make(map_type, key_size=4, value_size=4, max_entries=1, **kw):
        return kernel.map_create(MapCreateAttr(map_type, key_size, value_size, max_entries, **kw))
    return make
