"""Fixtures for tests/elf: compile tests/elf/data/*.c with every Clang found on this machine.

Toolchains are discovered once per session: Debian `clang-N` binaries on PATH and the
clang embedded in the `ziglang` wheel (`python -m ziglang cc`).  Each (source, toolchain)
is compiled once per session into a temporary directory.  When no toolchain exists, the
tests that need one are skipped with the reason.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class Toolchain:
    name: str
    major: int
    argv: tuple[str, ...]       # compiler command up to (excluding) the flags

    def compile(self, src: Path, out: Path, debug: bool = True) -> None:
        target = ["-target", "bpfel-freestanding-none"] if "ziglang" in self.argv else ["-target", "bpf"]
        extra = ["-fhosted", "-fbuiltin", "-fno-unwind-tables", "-fno-sanitize=undefined"] if "ziglang" in self.argv else []
        cmd = [*self.argv, *target, *extra, "-fno-crash-diagnostics", "-O2", "-g" if debug else "-g0", "-mcpu=v3",
               "-c", str(src), "-o", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode:
            raise RuntimeError(f"{self.name} failed on {src.name}: {proc.stderr.strip()[:500]}")


def _version_major(argv: list[str]) -> int | None:
    try:
        out = subprocess.run([*argv, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"clang version (\d+)\.", out)
    return int(m.group(1)) if m else None


def discover_toolchains() -> list[Toolchain]:
    found = []
    for major in range(13, 23):
        exe = shutil.which(f"clang-{major}")
        if exe:
            found.append(Toolchain(f"clang-{major}", major, (exe,)))
    if importlib.util.find_spec("ziglang") is not None:
        argv = [sys.executable, "-m", "ziglang", "cc"]
        major = _version_major(argv)
        if major:
            found.append(Toolchain(f"zig-clang{major}", major, tuple(argv)))
    return found


TOOLCHAINS = discover_toolchains()
NO_TOOLCHAIN = "no Clang toolchain found (neither clang-13..22 on PATH nor the ziglang wheel)"


def toolchain_params():
    """pytest params: one per toolchain, or a single skipped param saying why."""
    if not TOOLCHAINS:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_TOOLCHAIN), id="no-toolchain")]
    return [pytest.param(tc, id=tc.name) for tc in TOOLCHAINS]


@pytest.fixture(scope="session")
def compile_cache(tmp_path_factory):
    cache: dict[tuple[str, str, bool], Path] = {}
    root = tmp_path_factory.mktemp("elf-objects")

    def build(src_name: str, tc: Toolchain, debug: bool = True) -> Path:
        key = (src_name, tc.name, debug)
        if key not in cache:
            out = root / f"{Path(src_name).stem}{'' if debug else '-nodebug'}.{tc.name}.o"
            tc.compile(DATA / src_name, out, debug)
            cache[key] = out
        return cache[key]

    return build


@pytest.fixture(params=toolchain_params())
def toolchain(request) -> Toolchain:
    return request.param


@pytest.fixture
def kinds_obj(toolchain, compile_cache) -> Path:
    """tests/elf/data/kinds.c compiled with the parametrised toolchain."""
    return compile_cache("kinds.c", toolchain)


@pytest.fixture(scope="session")
def any_kinds_obj(compile_cache) -> Path:
    """kinds.c compiled with the newest available toolchain (for corruption tests)."""
    if not TOOLCHAINS:
        pytest.skip(NO_TOOLCHAIN)
    return compile_cache("kinds.c", max(TOOLCHAINS, key=lambda t: t.major))


@pytest.fixture
def externs_obj(toolchain, compile_cache) -> Path:
    """tests/elf/data/externs.c compiled with the parametrised toolchain."""
    return compile_cache("externs.c", toolchain)
