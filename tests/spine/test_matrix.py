"""Matrix runner: crash case xfail/pass, warm re-run from cache, resume, stage errors."""

import sys
import types

import pytest

from harness.corpus import discover, load_case, CORPUS_DIR
from harness.matrix import planned, run_job, run_matrix
from harness.results import merge
from harness.stages import Job, StageResult, run_stage
from harness.toolchains import load_toolchains


def _need(*names):
    tcs = load_toolchains()
    missing = [n for n in names if not tcs[n].available()]
    if missing:
        pytest.skip(f"toolchains missing: {', '.join(missing)}")
    return [tcs[n] for n in names]


def test_planned_items():
    case = load_case(CORPUS_DIR / "global_data" / "rodata.c")
    items = planned(case)
    assert items[:4] == [("compile", "*"), ("inspect", "*"), ("inspect", "rodata_mul"), ("inspect", "rodata_str")]
    assert ("run", "rodata_str") in items and ("compile", "rodata_mul") not in items


def test_percpu_crash_xfail_on_17_pass_on_18(tmp_path):
    tcs = _need("clang17", "clang18")
    cases = discover(select=["percpu/percpu_onebyte"])
    s = run_matrix(cases, tcs, run="t", reports=tmp_path, stages=["compile", "inspect"],
                   cache_dir=tmp_path / "cache")
    got = {(r["toolchain"], r["stage"], r["program"]): r for r in s.records}
    c17 = got[("clang17", "compile", "*")]
    assert (c17["status"], c17["known_issue"]) == ("xfail", "llvm-129437")
    assert c17["signature"] == "backend: unable to write nop sequence of N bytes"
    assert got[("clang17", "inspect", "update_percpu_data")]["status"] == "skip"
    assert got[("clang18", "compile", "*")]["status"] == "pass"
    assert got[("clang18", "compile", "*")]["object_hash"]
    assert s.ok
    # a warm re-run compiles nothing
    warm = run_matrix(cases, tcs, run="t2", reports=tmp_path, stages=["compile"], cache_dir=tmp_path / "cache")
    assert warm.compile_stats() == (2, 0)


def test_resume_skips_recorded_jobs(tmp_path):
    tcs = [t for t in load_toolchains().values() if t.available()][:1]
    if not tcs:
        pytest.skip("no toolchain available")
    cases = discover(select=["global_data"])
    first = run_matrix(cases, tcs, run="r", reports=tmp_path, stages=["compile"], cache_dir=tmp_path / "c")
    again = run_matrix(cases, tcs, run="r", reports=tmp_path, stages=["compile"], cache_dir=tmp_path / "c",
                       resume=True)
    assert again.skipped_jobs == len(cases) and again.records == []
    assert len(merge([tmp_path / "r"])) == len(first.records)


def test_missing_toolchain_skips_every_item(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text("[provider.path]\ntarget=['-target','bpf']\n"
                    "[toolchain.ghost]\nmajor=99\nprovider='path'\ncc=['/nonexistent/clang']\n")
    tc = load_toolchains(toml)["ghost"]
    case = load_case(CORPUS_DIR / "global_data" / "bss.c")
    recs = run_job(case, tc, run_dir=tmp_path)
    assert len(recs) == len(planned(case)) and {r["status"] for r in recs} == {"skip"}
    assert "toolchain missing" in recs[0]["detail"]


def test_raising_stage_becomes_error_record(monkeypatch):
    mod = types.ModuleType("harness.stages.boom")
    mod.run = lambda job: 1 / 0
    monkeypatch.setitem(sys.modules, "harness.stages.boom", mod)
    results, _ = run_stage("boom", Job(case=None, toolchain=None))
    assert len(results) == 1 and results[0].status == "error" and "ZeroDivisionError" in results[0].detail


def test_stage_returning_garbage_is_an_error(monkeypatch):
    mod = types.ModuleType("harness.stages.junk")
    mod.run = lambda job: ["not a StageResult"]
    monkeypatch.setitem(sys.modules, "harness.stages.junk", mod)
    results, _ = run_stage("junk", Job(case=None, toolchain=None))
    assert results[0].status == "error"


def test_stage_result_validates_status():
    with pytest.raises(ValueError):
        StageResult("*", "xfail")


@pytest.mark.parametrize("name,status", [("clang13", "skip"), ("clang19", "pass")])
def test_case_mcpu_directive(tmp_path, name, status):
    tc = _need(name)[0]
    (tmp_path / "v4.c").write_text("// harness: mcpu=v4\nint x;\n")
    case = load_case(tmp_path / "v4.c", tmp_path)
    assert case.mcpu == "v4"
    recs = run_job(case, tc, run_dir=tmp_path / "run", stages=["compile", "inspect"], cache_dir=tmp_path / "c")
    comp = recs[0]
    assert comp["status"] == status
    if status == "skip":
        assert "does not accept -mcpu=v4" in comp["detail"] and recs[1]["status"] == "skip"
    else:
        assert "-mcpu=v4" in comp["command"]


def test_unknown_directive_is_config_error(tmp_path):
    from harness.errors import ConfigError
    (tmp_path / "bad.c").write_text("// harness: optimise=yes\nint x;\n")
    with pytest.raises(ConfigError, match="unknown harness directive 'optimise'"):
        load_case(tmp_path / "bad.c", tmp_path)


def test_inspect_stage_ignores_text_subprograms(tmp_path, monkeypatch):
    """.text functions are subprograms: no per-program records for them."""
    from types import SimpleNamespace

    import harness.elf.inspect_cmd as inspect_cmd
    import harness.elf.object as elf_object
    from harness.stages import inspect as inspect_stage

    summary = {"btf": {}, "programs": [{"name": "entry", "section": "tc", "insn_count": 2},
                                        {"name": "helper", "section": ".text", "insn_count": 3}]}
    monkeypatch.setattr(elf_object.BpfObject, "open", staticmethod(lambda path: object()))
    monkeypatch.setattr(inspect_cmd, "summarize", lambda obj: summary)
    case = SimpleNamespace(program_names=["entry"], source_annotations=lambda: {})
    job = SimpleNamespace(obj_path=tmp_path / "x.o", major=18, annotations_source="btf",
                          annotations={}, case=case, shared={})
    results = inspect_stage.run(job)
    assert [r.program for r in results] == ["*", "entry"]
    assert job.shared["object_programs"] == ["entry"]
