"""Results files: atomic appends from many writers, torn lines, merging shards."""

import json
import multiprocessing
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness.errors import FormatError
from harness.results import append, make_record, merge, read


def rec(i, status="pass", tc="clang17", **kw):
    return make_record(case=f"c{i % 5}", program="*", toolchain=tc, stage="compile", status=status,
                       detail="x" * (i % 300), **kw)


def _writer(args):
    path, start = args
    for i in range(start, start + 50):
        append(path, rec(i, tc=f"t{i}"))


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "results.jsonl"
    with multiprocessing.get_context("fork").Pool(4) as pool:
        pool.map(_writer, [(path, k * 50) for k in range(4)])
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(_writer, [(path, 1000 + k * 50) for k in range(4)]))
    lines = path.read_text().splitlines()
    assert len(lines) == 400 and all(json.loads(line)["schema"] == 1 for line in lines)


def test_torn_last_line_is_ignored(tmp_path):
    path = tmp_path / "results.jsonl"
    append(path, rec(1))
    with open(path, "a") as f:
        f.write('{"case": "c1", "prog')
    assert len(read(path)) == 1


def test_corrupt_middle_line_is_a_format_error(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text('garbage\n' + json.dumps(rec(1)) + "\n")
    with pytest.raises(FormatError, match="line 1"):
        read(path)


def test_merge_shards_last_wins(tmp_path):
    a, b = tmp_path / "results-a.jsonl", tmp_path / "results-b.jsonl"
    append(a, rec(1, status="fail"))
    append(a, rec(2, tc="clang18"))
    append(b, rec(1, status="pass"))
    merged = merge([tmp_path])
    assert len(merged) == 2
    assert {(r["case"], r["toolchain"]): r["status"] for r in merged} == {("c1", "clang17"): "pass",
                                                                         ("c2", "clang18"): "pass"}


def test_bad_status_rejected():
    with pytest.raises(ValueError):
        make_record(case="c", program="*", toolchain="t", stage="s", status="maybe")


def test_missing_input_is_one_line_error(tmp_path):
    with pytest.raises(FormatError, match="no such results"):
        merge([tmp_path / "nope"])
