"""`python -m harness report [RESULTS...] [--run NAME] [--out DIR]`.

Merges results files (files or run directories; default: reports/<run>/) and writes
summary.md, report.json, junit.xml and index.html into --out (default: the run dir, or
reports/merged when several inputs are given).  Exit status 1 when the merged results
contain fail, xpass or error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from harness.errors import HarnessError
from harness.matrix import default_run_name, run_dir_for
from harness.report import html, junit, markdown, model
from harness.results import merge, results_files


def add_arguments(parser) -> None:
    parser.add_argument("inputs", nargs="*", help="results*.jsonl files or run directories to merge")
    parser.add_argument("--run", default=None, help="run name when no inputs are given (default: $HARNESS_RUN or 'local')")
    parser.add_argument("--reports", default=None, help="reports directory (default: reports/)")
    parser.add_argument("--out", default=None, help="output directory")
    parser.add_argument("--no-fail", action="store_true", help="exit 0 even when results have failures")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def build_reports(inputs: list, out: Path) -> dict:
    files = results_files(inputs)
    if not files:
        raise HarnessError(f"no results files in {', '.join(map(str, inputs))}")
    records = merge(files)
    doc = model.build(records, [str(f) for f in files])
    out.mkdir(parents=True, exist_ok=True)
    _write(out / "report.json", json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    _write(out / "summary.md", markdown.render(doc))
    _write(out / "junit.xml", junit.render(doc))
    _write(out / "index.html", html.render(doc))
    return doc


def run(args) -> int:
    if args.inputs:
        inputs = [Path(p) for p in args.inputs]
        out = Path(args.out) if args.out else (inputs[0] if len(inputs) == 1 and inputs[0].is_dir()
                                               else run_dir_for("merged", args.reports))
    else:
        run_dir = run_dir_for(args.run or default_run_name(), args.reports)
        if not run_dir.is_dir():
            raise HarnessError(f"no such run directory {run_dir} (run `python -m harness matrix` first)")
        inputs, out = [run_dir], Path(args.out) if args.out else run_dir
    doc = build_reports(inputs, out)
    loud = {k: v for k, v in doc["totals"].items() if k in ("fail", "xpass", "error")}
    print(f"report: {len(doc['records'])} records from {len(doc['sources'])} file(s) -> {out}/"
          f"{{summary.md,report.json,junit.xml,index.html}}"
          + (f"; attention: {loud}" if loud else ""))
    return 1 if loud and not args.no_fail else 0
