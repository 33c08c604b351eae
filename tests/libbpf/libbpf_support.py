"""Helpers for loader tests: compile a C file under tests/libbpf/data with a toolchain."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
# The upstream selftest mirror is a corpus case (the matrix runs it too).
PERCPU_SRC = Path(__file__).resolve().parents[2] / "corpus" / "test_global_percpu_data.c"


def toolchain_names() -> list[str]:
    from harness.toolchains import load_toolchains
    return sorted(load_toolchains())


def compile_or_skip(source: Path, toolchain: str, cache_dir: Path) -> Path:
    """Compile; a missing toolchain or a known compiler crash is a skip with the reason."""
    from harness.compile import compile_source
    from harness.toolchains import get_toolchain
    tc = get_toolchain(toolchain)
    if not tc.available():
        pytest.skip(f"toolchain missing: {tc.missing_reason()}")
    res = compile_source(source, tc, cache_dir=cache_dir)
    if res.status == "missing":
        pytest.skip(f"toolchain missing: {res.stderr}")
    if res.status == "crash":
        pytest.skip(f"{toolchain} crashes compiling {source.name} ({res.signature}); upstream-spec §7")
    if res.status != "ok":
        pytest.fail(f"{toolchain} failed on {source.name}: {res.status} {res.signature}\n{res.stderr}")
    return res.obj_path


def require_module(name: str, what: str) -> None:
    try:
        importlib.import_module(name)
    except ImportError:
        pytest.skip(f"{what} not available yet ({name})")


