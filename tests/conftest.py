"""Shared fixtures for the harness's own tests.

`bpf_build(path_to_c, toolchain=None, mcpu=None) -> Path` compiles a C file for BPF with a
named toolchain, or the newest available one, and returns the object path (in the
content-addressed cache, so repeated builds are free).  When no toolchain is available,
or the named one is missing, the test is skipped with the reason; a compile error or
crash fails the test with the compiler's output.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# pyproject runs pytest with --import-mode=importlib so that test files with the same
# basename in different areas (tests/vm/test_calls.py, tests/kernel_progs/test_calls.py)
# never clash.  In that mode a test dir is not put on sys.path, so each area's own helper
# modules (kp_asm.py, libbpf_support.py, ...) are made importable here instead.
for _area in sorted(Path(__file__).parent.iterdir()):
    if _area.is_dir() and not (_area / "__init__.py").exists() and str(_area) not in sys.path:
        sys.path.insert(0, str(_area))


@pytest.fixture(scope="session")
def harness_cache_dir(tmp_path_factory) -> Path:
    """Object cache for tests: $HARNESS_CACHE_DIR when set (CI reuses it), else per session."""
    env = os.environ.get("HARNESS_CACHE_DIR")
    return Path(env) if env else tmp_path_factory.mktemp("objcache")


@pytest.fixture
def bpf_build(harness_cache_dir):
    from harness.compile import compile_source
    from harness.toolchains import first_available, get_toolchain

    def build(source, toolchain=None, mcpu=None, cflags=()) -> Path:
        if toolchain is None:
            tc = first_available()
            if tc is None:
                pytest.skip("no BPF toolchain available (python -m harness toolchains install NAME)")
        else:
            tc = get_toolchain(toolchain)
            if not tc.available():
                pytest.skip(f"toolchain missing: {tc.missing_reason()}")
        if mcpu and not tc.supports_mcpu(mcpu):
            pytest.skip(f"{tc.name} (LLVM {tc.major}) does not support -mcpu={mcpu}")
        res = compile_source(Path(source), tc, mcpu=mcpu, cflags=cflags, cache_dir=harness_cache_dir)
        if res.status == "missing":
            pytest.skip(f"toolchain missing: {res.stderr}")
        if res.status != "ok":
            pytest.fail(f"{tc.name} failed to compile {source} ({res.status}: {res.signature})\n{res.stderr}")
        return res.obj_path

    return build
