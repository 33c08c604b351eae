"""The differential stage on corpus objects: agreement where both kernels can do the same,
and the known 6.18 difference (no global per-CPU data) reported as a fail that the
expectations file turns into xfail.  Skipped with the probe's reason without bpf(2)."""

import shutil
import subprocess
from pathlib import Path

import pytest

from harness.realkernel import probe
from harness.toolchains import REPO_ROOT

AVAILABLE = probe()
CLANG = shutil.which("clang-19") or shutil.which("clang-14")


def compile_case(case: str, tmp_path: Path) -> Path:
    if CLANG is None:
        pytest.skip("no Debian clang (clang-19 / clang-14) on PATH")
    out = tmp_path / (Path(case).name + ".o")
    subprocess.run([CLANG, "-target", "bpf", "-O2", "-g", "-mcpu=v3", "-I", str(REPO_ROOT / "corpus/include"),
                    "-c", str(REPO_ROOT / "corpus" / f"{case}.c"), "-o", str(out)], check=True)
    return out


class FakeJob:
    def __init__(self, obj_path, programs):
        self.obj_path, self.programs = obj_path, programs


def run_stage(obj, programs):
    from harness.stages import differential
    return {r.program: r for r in differential.run(FakeJob(obj, programs))}


def test_diff_stage_skips_without_oracle(monkeypatch, tmp_path):
    from harness.realkernel import availability
    monkeypatch.setattr(availability, "probe", lambda: availability.Availability(False, "bpf(): EPERM"))
    monkeypatch.setattr("harness.realkernel.probe", availability.probe)
    res = run_stage(tmp_path / "none.o", ["a", "b"])
    assert [r.status for r in res.values()] == ["skip", "skip"]
    assert "EPERM" in res["a"].detail


needs_kernel = pytest.mark.skipif(not AVAILABLE.ok, reason=f"kernel BPF oracle unavailable: {AVAILABLE.reason}")


@needs_kernel
def test_diff_stage_data_rw_agrees(tmp_path):
    res = run_stage(compile_case("global_data/data_rw", tmp_path), ["data_add", "data_wide"])
    assert res["data_add"].status == "pass", res["data_add"].detail
    runs = res["data_add"].extra["real"]["runs"]
    assert [r["retval"] for r in runs][:2] == [42, 44][:len(runs)]      # .data accumulates across CPUs
    assert "*" not in res                       # the object loaded on both sides: no object record


@needs_kernel
def test_diff_stage_percpu_difference_is_reported(tmp_path):
    from harness.realkernel import feature
    if feature("percpu_data"):
        pytest.skip("the running kernel has global per-CPU data: no known difference to show")
    res = run_stage(compile_case("percpu/percpu_ints", tmp_path), ["percpu_sum"])
    r = res["percpu_sum"]
    assert r.status == "fail"
    assert r.extra["signature"].startswith("verdict: emulated loaded, real EINVAL: BPF map '.percpu' is referenced")
    assert "map .percpu: emulated created, real not created" in r.extra["signature"]     # the object's maps
    assert r.extra["real"]["load"]["errno"] == "EINVAL" and r.extra["emulated"]["runs"]


@needs_kernel
def test_diff_stage_expectations_cover_known_difference(tmp_path):
    from harness import expectations as expect
    from harness.realkernel import feature
    if feature("percpu_data"):
        pytest.skip("the running kernel has global per-CPU data")
    res = run_stage(compile_case("percpu/percpu_ints", tmp_path), ["percpu_sum"])
    exps = expect.load_expectations()
    for prog, r in res.items():
        e = expect.find(exps, "percpu/percpu_ints", "differential", prog, "clang19", "19.1.7")
        status, _detail, issue = expect.judge(r.status, r.extra.get("outcome", r.status),
                                              r.extra.get("signature", ""), r.detail, e)
        assert (status, issue) == ("xfail", "kernel-no-percpu-data"), (prog, r.detail)
    assert res
