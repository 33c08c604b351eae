"""Fixtures for loader tests (helpers live in libbpf_support.py)."""

from __future__ import annotations

import pytest

from libbpf_support import DATA, PERCPU_SRC, compile_or_skip


@pytest.fixture
def build(harness_cache_dir):
    def _build(name: str, toolchain: str | None = None) -> Path:
        if toolchain is None:
            from harness.toolchains import first_available
            tc = first_available()
            if tc is None:
                pytest.skip("no BPF toolchain available")
            toolchain = tc.name
        src = PERCPU_SRC if name == PERCPU_SRC.name else DATA / name
        return compile_or_skip(src, toolchain, harness_cache_dir)
    return _build
