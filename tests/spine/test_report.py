"""Report: summary.md, report.json, junit.xml and index.html from merged shards."""

import json
import xml.etree.ElementTree as ET

import pytest

from harness.cli import main
from harness.report.cmd import build_reports
from harness.results import append, make_record


def _rec(case, prog, tc, stage, status, **kw):
    return make_record(run="r", case=case, program=prog, toolchain=tc, stage=stage, status=status,
                       detail=kw.pop("detail", status), major=int(tc[5:7]), version=f"clang version {tc[5:7]}.0.1",
                       **kw)


@pytest.fixture
def two_shards(tmp_path):
    run = tmp_path / "run"
    append(run / "results-clang17.jsonl", _rec("percpu/x", "*", "clang17", "compile", "xfail",
                                               known_issue="llvm-129437", command=["clang", "-c"],
                                               stderr="fatal error: error in backend: <nop>"))
    append(run / "results-clang17.jsonl", _rec("percpu/x", "prog", "clang17", "load", "skip"))
    append(run / "results-clang18.jsonl", _rec("percpu/x", "*", "clang18", "compile", "pass"))
    append(run / "results-clang18.jsonl", _rec("percpu/x", "*", "clang18", "inspect", "pass",
                                               extra={"inspect": {"sections": [".percpu"]}}))
    append(run / "results-clang18.jsonl", _rec("percpu/x", "prog", "clang18", "load", "xpass",
                                               known_issue="k-1"))
    return run


def test_build_reports_from_shards(two_shards):
    doc = build_reports([two_shards], two_shards)
    assert list(doc["toolchains"]) == ["clang17", "clang18"]
    assert doc["totals"] == {"xfail": 1, "skip": 1, "pass": 2, "xpass": 1}
    assert doc["matrix"]["compile"]["percpu/x::*"]["clang17"]["known_issue"] == "llvm-129437"
    assert json.loads((two_shards / "report.json").read_text())["schema"] == 1
    md = (two_shards / "summary.md").read_text()
    assert "| percpu/x::* | xfail (llvm-129437) | pass |" in md and "**XPASS**" in md
    suites = {s.get("name"): s for s in ET.parse(two_shards / "junit.xml").getroot()}
    assert suites["load"].get("failures") == "1" and suites["compile"].get("skipped") == "1"
    html = (two_shards / "index.html").read_text()
    assert "background:#ffe08a" in html and "id='c-compile-percpu_x-_-clang17'" in html
    assert "error in backend" in html          # compiler stderr in the drill-down
    assert "&quot;.percpu&quot;" in html         # inspect summary in the drill-down


def test_report_cli_exit_status_and_errors(two_shards, tmp_path, capsys):
    assert main(["report", str(two_shards), "--out", str(tmp_path / "o")]) == 1   # xpass is loud
    assert main(["report", str(two_shards), "--out", str(tmp_path / "o"), "--no-fail"]) == 0
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such results file" in capsys.readouterr().err
