"""The `verify` command and the matrix's verify stage on compiled corpus objects."""

import pytest

from harness.cli import main
from harness.corpus import CORPUS_DIR, load_case


def _toolchain():
    from harness.toolchains import load_toolchains
    avail = [t for t in load_toolchains().values() if t.available()]
    if not avail:
        pytest.skip("no toolchain available")
    return avail[0]


@pytest.fixture(scope="module")
def rodata_obj(tmp_path_factory):
    from harness.compile import compile_source
    tc = _toolchain()
    case = load_case(CORPUS_DIR / "global_data" / "rodata.c")
    res = compile_source(case.path, tc, cache_dir=tmp_path_factory.mktemp("cache"))
    if res.status != "ok":
        pytest.skip(f"{tc.name} could not compile rodata.c: {res.status}")
    return res.obj_path


def test_cli_verify_prints_log_and_xlated(rodata_obj, capsys):
    rc = main(["verify", str(rodata_obj), "--log-level", "2", "--xlated", "--prog", "rodata_mul"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "== rodata_mul: verified" in out
    assert "Live regs before insn:" in out and "processed " in out
    assert "rodata_str" not in out


def test_cli_verify_bad_input(tmp_path, capsys, rodata_obj):
    assert main(["verify", str(tmp_path / "missing.o")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["verify", str(rodata_obj), "--prog", "nope"]) == 2
    assert "no program 'nope'" in capsys.readouterr().err
    junk = tmp_path / "junk.o"
    junk.write_bytes(b"not an elf")
    assert main(["verify", str(junk)]) == 2


def test_verify_stage_records_verdicts(tmp_path):
    from harness.matrix import run_job
    tc = _toolchain()
    case = load_case(CORPUS_DIR / "test_global_percpu_data.c")
    recs = [r for r in run_job(case, tc, run_dir=tmp_path, stages=("compile", "inspect", "load", "verify"))
            if r["stage"] == "verify"]
    if not recs or all(r["status"] == "skip" for r in recs):
        pytest.skip(f"no object from {tc.name}: {[r.get('detail') for r in recs]}")
    by = {r["program"]: r for r in recs}
    strncmp = by["verifier_strncmp"]
    assert strncmp["status"] == "pass", strncmp
    assert "points to percpu_array map which cannot be used as const string" in strncmp["detail"]
