"""`python -m harness matrix --toolchains clang17,clang18 [--cases percpu] [--run NAME]`.

Runs every selected case with every selected toolchain through the stages and appends
records to reports/<run>/results.jsonl.  Exit status: 0 when nothing failed (pass,
xfail and skip are fine), 1 on fail / xpass / error.
"""

from __future__ import annotations

import sys

from harness.corpus import discover
from harness.errors import HarnessError
from harness.matrix import default_run_name, run_matrix
from harness.stages import STAGES
from harness.toolchains import select

MARK = {"pass": ".", "xfail": "x", "skip": "s", "fail": "F", "xpass": "X", "error": "E"}


def add_arguments(parser) -> None:
    parser.add_argument("--toolchains", "-t", default="all",
                        help="comma list of toolchain names (default: all declared)")
    parser.add_argument("--cases", "-c", default="", help="comma list of case ids or prefixes (default: all)")
    parser.add_argument("--corpus", default=None, help="corpus directory (default: corpus/)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma list (default: {','.join(STAGES)})")
    parser.add_argument("--run", default=None, help="run name: reports/<run>/ (default: $HARNESS_RUN or 'local')")
    parser.add_argument("--reports", default=None, help="reports directory (default: reports/)")
    parser.add_argument("--shard", default="", help="write results-<shard>.jsonl (for merging)")
    parser.add_argument("--mcpu", default=None, help="override -mcpu for every case")
    parser.add_argument("--jobs", "-j", type=int, default=None, help="parallel jobs (default: CPUs)")
    parser.add_argument("--cache-dir", default=None, help="object cache (default: $HARNESS_CACHE_DIR)")
    parser.add_argument("--resume", action="store_true", help="skip jobs already recorded in the run")
    parser.add_argument("--quiet", "-q", action="store_true")


def run(args) -> int:
    stages = [s for s in args.stages.split(",") if s]
    bad = [s for s in stages if s not in STAGES]
    if bad:
        raise HarnessError(f"unknown stage(s) {', '.join(bad)} (known: {', '.join(STAGES)})")
    toolchains = select(args.toolchains)
    cases = discover(args.corpus, [c for c in args.cases.split(",") if c] or None)
    if not cases:
        raise HarnessError("no cases selected")

    def progress(r):
        if args.quiet:
            return
        if r["status"] in ("fail", "xpass", "error"):
            sys.stdout.write(f"\n{r['status'].upper()} {r['case']}::{r['program']} [{r['toolchain']}] "
                             f"{r['stage']}: {r['detail']}\n")
        else:
            sys.stdout.write(MARK[r["status"]])
        sys.stdout.flush()

    s = run_matrix(cases, toolchains, run=args.run, reports=args.reports, stages=stages, jobs=args.jobs,
                   cache_dir=args.cache_dir, mcpu=args.mcpu, resume=args.resume, shard=args.shard,
                   progress=progress)
    hits, compiled = s.compile_stats()
    counts = " ".join(f"{k}={v}" for k, v in sorted(s.counts().items()))
    print(f"\nrun {args.run or default_run_name()}: {len(s.records)} records ({counts}); "
          f"compile: {compiled} compiled, {hits} cache hits; "
          f"{s.skipped_jobs} jobs resumed; {s.wall:.3f} s; results in {s.run_dir}")
    xpass = [r for r in s.records if r["status"] == "xpass"]
    for r in xpass:
        print(f"!!! XPASS {r['case']} [{r['toolchain']}] {r['stage']}: {r['detail']}")
    return 0 if s.ok else 1
