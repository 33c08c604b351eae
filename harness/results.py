"""Result records: one JSON line per (case, program, toolchain, stage), appended as a
run goes.

Each record is written with a single write() on an O_APPEND descriptor under an
exclusive flock, so concurrent writers (xdist workers, parallel tox envs, threads) never
interleave lines and an interrupted run keeps every record written so far (the data is
in the kernel once write() returns; no fsync: we guard against killed runs, not power loss).  Readers
ignore a torn last line.  Reports are built from results files only; when files from
several shards or machines are merged, the last record per key wins (files are read in
the order given, lines in file order).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path

from harness.errors import FormatError

SCHEMA = 1
STATUSES = ("pass", "fail", "xfail", "xpass", "skip", "error")
KEY_FIELDS = ("case", "program", "toolchain", "stage")
MAX_TEXT = 16000   # stderr / logs are truncated to this many characters per record


def key(rec: dict) -> tuple:
    return tuple(rec.get(k) for k in KEY_FIELDS)


def make_record(**fields) -> dict:
    """A record with the common identity fields filled in."""
    rec = {"schema": SCHEMA, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "host": socket.gethostname(), "pid": os.getpid()}
    rec.update(fields)
    if rec.get("status") not in STATUSES:
        raise ValueError(f"bad status {rec.get('status')!r}")
    for k in ("stderr", "log"):
        if isinstance(rec.get(k), str) and len(rec[k]) > MAX_TEXT:
            rec[k] = rec[k][:MAX_TEXT] + f"\n… ({len(rec[k]) - MAX_TEXT} more characters)"
    return rec


def append(path: Path | str, record: dict) -> None:
    """Append one record atomically (one line, one write, under flock)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            view = memoryview(line)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read(path: Path | str) -> list[dict]:
    """Records of one results file; a torn (partial) last line is ignored."""
    path = Path(path)
    out = []
    try:
        lines = path.read_text(errors="replace").splitlines(keepends=True)
    except OSError as exc:
        raise FormatError(f"cannot read results: {exc.strerror}", path=str(path)) from None
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            if i == len(lines) and not line.endswith("\n"):
                continue  # interrupted mid-write
            raise FormatError(f"line {i}: not a JSON record", path=str(path)) from None
        if not isinstance(rec, dict) or any(k not in rec for k in (*KEY_FIELDS, "status")):
            raise FormatError(f"line {i}: record lacks {', '.join(KEY_FIELDS)} or status", path=str(path))
        out.append(rec)
    return out


def results_files(paths) -> list[Path]:
    """Expand run dirs to their results*.jsonl files (sorted), keep files as given."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(p.glob("results*.jsonl")))
        elif p.is_file():
            out.append(p)
        else:
            raise FormatError("no such results file or run directory", path=str(p))
    return out


def merge(paths) -> list[dict]:
    """Latest record per key across files, in first-seen key order."""
    latest: dict[tuple, dict] = {}
    for f in results_files(paths):
        for rec in read(f):
            latest[key(rec)] = rec
    return list(latest.values())
