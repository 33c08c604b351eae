"""Feature probes against an emulated kernel told to lack one feature at a time."""

from __future__ import annotations

import pytest

from harness.kernel.core import ALL_FEATURES, KernelConfig
from harness.kernel.syscall import EmulatedKernel
from harness.libbpf.features import FEATURES, kernel_supports, probe_all

# libbpf feature -> the emulated kernel's feature switch that removes it
CASES = [
    ("global_data", "global_data"),
    ("percpu_data", "percpu_data"),
    ("btf_datasec", "btf_datasec"),
    ("btf_float", "btf_float"),
    ("btf_decl_tag", "btf_decl_tag"),
    ("btf_type_tag", "btf_type_tag"),
    ("btf_enum64", "btf_enum64"),
    ("btf_func", "btf_func"),
]


def test_full_kernel_has_everything():
    got = probe_all(EmulatedKernel())
    assert set(got) == set(FEATURES)
    assert all(got.values()), {k: v for k, v in got.items() if not v}


@pytest.mark.parametrize("feature,switch", CASES)
def test_missing_feature_detected(feature, switch):
    k = EmulatedKernel(KernelConfig(features=ALL_FEATURES - {switch}))
    assert kernel_supports(k, feature) is False
    # unrelated features stay available
    assert kernel_supports(k, "prog_name") is True
    assert kernel_supports(k, "global_data") is (switch != "global_data")


def test_probe_results_are_cached_per_kernel():
    k = EmulatedKernel()
    assert kernel_supports(k, "percpu_data") is True
    calls = []
    orig = k.map_create
    k.map_create = lambda attr: calls.append(attr) or orig(attr)
    assert kernel_supports(k, "percpu_data") is True
    assert calls == []
    assert FEATURES["percpu_data"].desc == "kernel supports percpu data"
