"""`python -m harness conformance` prints the score and fails on a failing file."""

from harness.cli import main

SUITE = "/work/shared/conformance/bpf_conformance"


def test_conformance_command_scores_files(capsys):
    assert main(["conformance", f"{SUITE}/tests/add.data", f"{SUITE}/tests/callx.data"]) == 0
    assert "BPF conformance: 2/2 passed" in capsys.readouterr().out


def test_conformance_command_reports_failures(capsys):
    assert main(["conformance", f"{SUITE}/negative/incorrect_return_value_high_bits.data"]) == 1
    out = capsys.readouterr().out
    assert "FAIL incorrect_return_value_high_bits" in out and "0/1 passed" in out


def test_conformance_command_bad_path(capsys):
    assert main(["conformance", "/no/such/dir"]) != 0
    assert "no such file or directory" in capsys.readouterr().err
