#!/usr/bin/env python3
"""Compile-cache benchmark: cold vs warm wall time of the compile stage.

Runs the matrix's compile stage over the whole corpus with the selected toolchains in a
fresh Python process (so nothing is remembered in memory): first with an empty object
cache (cold), then again with the cache that run filled (warm).  The ratio compares the
matrix's own wall time (what the runner reports; interpreter start-up and imports, the
same ~0.1-0.2 s for both, are shown separately); the target is >= 10.  A warm run must compile
nothing (every compile record a cache hit) or the script exits 1.

Then the same warm cache is used from a copy of the checkout at another absolute path (what
a fresh CI clone or a dashboard's own work dir is): objects and keys hold no absolute path
(harness/compile.py, Layout), so that relocated run must compile nothing as well.

    python bench/compile_cache.py [--toolchains clang17,clang18] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 10.0


# what a checkout needs to run the matrix (not .git, tox envs, reports or caches)
COPY_IGNORE = shutil.ignore_patterns(".git", ".tox", "reports", "__pycache__", ".pytest_cache",
                                     ".benchmarks", "*.pyc")


def run_once(toolchains: str, cache: Path, reports: Path, run: str,
             root: Path = ROOT) -> tuple[float, float, str]:
    env = {**os.environ, "HARNESS_CACHE_DIR": str(cache), "PYTHONPATH": str(root)}
    argv = [sys.executable, "-m", "harness", "matrix", "--toolchains", toolchains, "--stages", "compile",
            "--reports", str(reports), "--run", run, "-q"]
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=root, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        sys.exit(f"matrix failed (rc {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    line = proc.stdout.strip().splitlines()[-1]
    m = re.search(r"; ([0-9.]+) s;", line)
    if not m:
        sys.exit(f"cannot find the matrix time in: {line}")
    return float(m[1]), wall, line


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--toolchains", default="clang17,clang18")
    ap.add_argument("--repeat", type=int, default=3, help="warm runs (the best is used)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cc-") as tmp:
        tmp = Path(tmp)
        cold, cold_proc, cold_line = run_once(args.toolchains, tmp / "cache", tmp / "reports", "cold")
        warms = [run_once(args.toolchains, tmp / "cache", tmp / "reports", f"warm{i}") for i in range(args.repeat)]
        clone = tmp / "elsewhere" / "checkout"
        shutil.copytree(ROOT, clone, ignore=COPY_IGNORE)
        moved, moved_proc, moved_line = run_once(args.toolchains, tmp / "cache", tmp / "reports", "relocated",
                                                 root=clone)
    warm, warm_proc, warm_line = min(warms)
    ratio = cold / warm if warm else float("inf")
    print(f"cold: {cold:.3f} s compile stage, {cold_proc:.3f} s process   ({cold_line})")
    print(f"warm: {warm:.3f} s compile stage, {warm_proc:.3f} s process   ({warm_line})")
    print(f"relocated warm (a copy of the checkout at another path, same cache): {moved:.3f} s "
          f"compile stage   ({moved_line})")
    print(f"cold/warm ratio: {ratio:.1f} (target >= {TARGET:g}); whole process: {cold_proc / warm_proc:.1f}")
    if " 0 compiled," not in warm_line:
        print("warm run compiled something: the cache key is unstable")
        return 1
    if " 0 compiled," not in moved_line:
        print("relocated run compiled something: the cache key or the objects depend on the checkout's path")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
