"""The matrix runner: every case × toolchain through the stages, one record per
(case, program, toolchain, stage), appended to reports/<run>/results.jsonl as it goes.

The runner knows neither how a toolchain is provisioned (harness.toolchains) nor what a
stage does (harness/stages/*): it sequences stages per (case, toolchain) job, applies
corpus/expectations.toml (xfail / xpass) and writes records.  The pytest plugin uses the
same `run_job` so both paths produce identical records.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness import annotations as ann
from harness import expectations as expect
from harness import results as res
from harness.compile import DEFAULT_MCPU
from harness.stages import STAGES, Job, StageResult, run_stage
from harness.toolchains import REPO_ROOT, Toolchain, parse_version

REPORTS_DIR = REPO_ROOT / "reports"
# Fields of a stage's extra dict promoted to top-level record fields.
PROMOTED = ("outcome", "signature", "cached", "command", "stderr", "log", "mcpu")


def default_run_name() -> str:
    return os.environ.get("HARNESS_RUN") or "local"


def run_dir_for(run: str, reports: Path | None = None) -> Path:
    return Path(reports or os.environ.get("HARNESS_REPORTS") or REPORTS_DIR) / run


def planned(case, stages=STAGES) -> list[tuple[str, str]]:
    """(stage, program) items a case yields: compile is object-level, inspect has an
    object-level item plus one per program, the other stages are per program."""
    items = []
    for st in stages:
        if st == "compile":
            items.append((st, "*"))
        elif st == "inspect":
            items += [(st, "*")] + [(st, p) for p in case.program_names]
        else:
            items += [(st, p) for p in case.program_names]
    return items


def _version_of(job: Job) -> str | None:
    v = parse_version(job.version)
    return ".".join(map(str, v)) if v else (job.toolchain.version or None)


def _extract_annotations(job: Job) -> None:
    if job.obj_path is not None and job.major >= 14:
        found, _note = ann.from_object(job.obj_path)
        if found is not None:
            job.annotations, job.annotations_source = found, "btf"
            return
    job.annotations, job.annotations_source = job.case.source_annotations(), "source"


def run_job(case, tc: Toolchain, *, run_dir: Path, run_name: str = "", stages=STAGES,
            cache_dir: Path | None = None, mcpu: str | None = None,
            expectations=None) -> list[dict]:
    """All stages for one (case, toolchain); returns finished records (not written)."""
    expectations = expect.load_expectations() if expectations is None else expectations
    job = Job(case=case, toolchain=tc, run_dir=run_dir, cache_dir=cache_dir,
              mcpu=mcpu or case.mcpu or DEFAULT_MCPU)
    if not tc.available():
        return [_record(job, st, StageResult(p, "skip", f"toolchain missing: {tc.missing_reason()}",
                                             {"outcome": "missing"}), 0.0, expectations, run_name)
                for st, p in planned(case, stages)]
    job.version = tc.version_string()
    records = []
    for st in stages:
        if st != "compile" and job.obj_path is None:
            comp = job.results.get("compile") or []
            why = (f"no object: compile {job.compile.status}" if job.compile is not None
                   else f"no object: {comp[0].detail}" if comp else "no object (compile stage not run)")
            results = [StageResult(p, "skip", why) for s, p in planned(case, [st])]
            dur = 0.0
        else:
            results, dur = run_stage(st, job)
        job.results[st] = results
        if st == "compile" and len(stages) > 1:
            _extract_annotations(job)   # later stages need them; a compile-only run does not
        records += [_record(job, st, r, dur, expectations, run_name) for r in results]
    return records


def _record(job: Job, stage: str, r: StageResult, dur: float, expectations, run_name: str) -> dict:
    extra = dict(r.extra)
    outcome = extra.get("outcome", r.status)
    signature = extra.get("signature", "")
    version = _version_of(job)
    exp = expect.find(expectations, job.case.name, stage, r.program, job.toolchain.name, version)
    status, detail, issue = expect.judge(r.status, outcome, signature, r.detail, exp)
    fields = {k: extra.pop(k) for k in PROMOTED if k in extra}
    durations = {"stage": round(dur, 6)}
    if "compile_s" in extra:
        durations["compile"] = round(extra.pop("compile_s"), 6)
    return res.make_record(
        run=run_name, case=job.case.name, source=str(job.case.path.relative_to(REPO_ROOT))
        if job.case.path.is_relative_to(REPO_ROOT) else str(job.case.path),
        program=r.program, toolchain=job.toolchain.name, stage=stage, status=status, detail=detail,
        known_issue=issue, expected=exp.outcome if exp else None, version=job.version,
        clang_version=version, major=job.major, provider=job.toolchain.provider.name,
        object_hash=job.obj_hash, durations=durations,
        annotations_source=job.annotations_source or None,
        annotations=job.annotations[r.program].to_dict() if r.program in job.annotations else None,
        **{"outcome": outcome, "signature": signature, **fields}, extra=extra or None)


@dataclass
class MatrixSummary:
    run_dir: Path
    records: list = field(default_factory=list)
    skipped_jobs: int = 0
    wall: float = 0.0

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for r in self.records:
            c[r["status"]] = c.get(r["status"], 0) + 1
        return c

    def compile_stats(self) -> tuple[int, int]:
        """(cache hits, compiles actually run) among compile records with a compiler run."""
        comp = [r for r in self.records if r["stage"] == "compile" and r.get("outcome") not in ("missing", "unsupported")]
        hits = sum(1 for r in comp if r.get("cached"))
        return hits, len(comp) - hits

    @property
    def ok(self) -> bool:
        return not any(r["status"] in ("fail", "xpass", "error") for r in self.records)


def run_matrix(cases, toolchains, *, run: str | None = None, reports: Path | None = None,
               stages=STAGES, jobs: int | None = None, cache_dir: Path | None = None,
               mcpu: str | None = None, resume: bool = False, shard: str = "",
               progress=None) -> MatrixSummary:
    run = run or default_run_name()
    run_dir = run_dir_for(run, reports)
    run_dir.mkdir(parents=True, exist_ok=True)
    out = run_dir / (f"results-{shard}.jsonl" if shard else "results.jsonl")
    done: set = set()
    if resume:
        for f in res.results_files([run_dir]):
            done |= {res.key(r) for r in res.read(f)}
    expectations = expect.load_expectations()
    summary = MatrixSummary(run_dir)
    lock = threading.Lock()
    work = []
    for case in cases:
        for tc in toolchains:
            keys = {(case.name, p, tc.name, st) for st, p in planned(case, stages)}
            if resume and keys <= done:
                summary.skipped_jobs += 1
                continue
            work.append((case, tc))

    def one(item):
        case, tc = item
        recs = run_job(case, tc, run_dir=run_dir, run_name=run, stages=stages, cache_dir=cache_dir,
                       mcpu=mcpu, expectations=expectations)
        with lock:
            for r in recs:
                res.append(out, r)
                summary.records.append(r)
                if progress:
                    progress(r)
        return recs

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
        list(pool.map(one, work))
    summary.wall = time.perf_counter() - t0
    return summary
