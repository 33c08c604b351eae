"""The matrix's load stage (harness/stages/load.py) on compiled objects."""

from __future__ import annotations

from pathlib import Path

from harness.annotations import from_source
from harness.corpus import load_case
from harness.stages import Job, run_stage
from libbpf_support import DATA, PERCPU_SRC


def make_job(path: Path, obj_path: Path) -> Job:
    case = load_case(path)
    return Job(case=case, toolchain=None, obj_path=obj_path,
               annotations=from_source(path.read_text()))


def test_percpu_object_loads(build):
    src = PERCPU_SRC
    job = make_job(src, build(src.name))
    results, _ = run_stage("load", job)
    by = {r.program: r for r in results}
    assert by["*"].status == "pass"
    names = {m["name"] for m in by["*"].extra["maps"]}
    assert {".percpu", ".percpu.loooooo", "test_glo.bss", ".data.percpu"} <= names
    assert by["update_percpu_data"].status == "pass"
    assert by["update_percpu_data"].extra["outcome"] == "loaded"
    assert by["dump_percpu_data"].status == "pass"
    assert "libbpf" in job.shared and job.shared["libbpf"]["object"].loaded


def test_legacy_maps_is_a_libbpf_failure_not_a_traceback(build):
    src = DATA / "legacy_maps.c"
    results, _ = run_stage("load", make_job(src, build(src.name)))
    by = {r.program: r for r in results}
    assert by["*"].status == "fail"
    assert by["*"].extra["outcome"] == "libbpf-error"
    assert "legacy map definitions in 'maps' section" in by["*"].detail
    assert by["prog"].status == "fail"
    assert "traceback" not in by["*"].extra


def test_unreadable_object(tmp_path):
    bad = tmp_path / "bad.o"
    bad.write_bytes(b"\x7fELF garbage")
    src = DATA / "legacy_maps.c"
    results, _ = run_stage("load", make_job(src, bad))
    assert results[0].status == "fail" and "open failed" in results[0].detail
