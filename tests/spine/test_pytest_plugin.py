"""The pytest plugin: readable item ids, status mapping, and the same results file."""

import json
import os
import subprocess
import sys

import pytest

from harness.toolchains import REPO_ROOT, load_toolchains


def _pytest(tmp_path, *args):
    env = {**os.environ, "HARNESS_REPORTS": str(tmp_path), "HARNESS_RUN": "plug"}
    env.pop("PYTEST_XDIST_WORKER", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rxs", *args],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def test_collect_ids(tmp_path):
    p = _pytest(tmp_path, "corpus/percpu/percpu_onebyte.c", "--toolchain", "clang17,clang18", "--collect-only")
    ids = p.stdout.split()
    assert "corpus/percpu/percpu_onebyte.c::compile[clang17]" in ids
    assert "corpus/percpu/percpu_onebyte.c::run:update_percpu_data[clang18]" in ids


def test_crash_case_xfail_and_records(tmp_path):
    tcs = load_toolchains()
    if not (tcs["clang17"].available() and tcs["clang18"].available()):
        pytest.skip("clang17 and clang18 needed (python -m harness toolchains install clang17 clang18)")
    p = _pytest(tmp_path, "corpus/percpu/percpu_onebyte.c", "--toolchain", "clang17,clang18",
                "--stages", "compile,inspect")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "XFAIL corpus/percpu/percpu_onebyte.c::compile[clang17]" in p.stdout
    assert "llvm-129437" in p.stdout
    recs = [json.loads(line) for line in (tmp_path / "plug" / "results.jsonl").read_text().splitlines()]
    by = {(r["toolchain"], r["stage"], r["program"]): r["status"] for r in recs}
    assert by[("clang17", "compile", "*")] == "xfail"
    assert by[("clang18", "compile", "*")] == "pass"
    assert by[("clang17", "inspect", "update_percpu_data")] == "skip"


def test_unknown_toolchain_is_a_collection_error(tmp_path):
    p = _pytest(tmp_path, "corpus/global_data/bss.c", "--toolchain", "clang99")
    assert p.returncode != 0 and "unknown toolchain 'clang99'" in p.stdout


def test_same_records_as_matrix(tmp_path):
    from harness.corpus import discover
    from harness.matrix import run_matrix
    from harness.toolchains import first_available

    tc = first_available()
    if tc is None:
        pytest.skip("no BPF toolchain available")
    p = _pytest(tmp_path, "corpus/global_data/bss.c", "--toolchain", tc.name)
    assert p.returncode in (0, 1), p.stdout + p.stderr
    plug = {(r["stage"], r["program"], r["status"])
            for r in map(json.loads, (tmp_path / "plug" / "results.jsonl").read_text().splitlines())}
    s = run_matrix(discover(select=["global_data/bss"]), [tc], run="m", reports=tmp_path)
    assert plug == {(r["stage"], r["program"], r["status"]) for r in s.records}
