"""pytest plugin: `pytest corpus --toolchain clang17,clang18 -n auto`.

Every C case under corpus/ (include/ and bench/ excluded) yields one item per
(case, program, toolchain, stage), with readable ids such as

    corpus/percpu/percpu_onebyte.c::compile[clang17]
    corpus/global_data/bss.c::run:bss_count[clang18]

An item runs its (case, toolchain) job through harness.matrix.run_job (once per worker
process; compiles come from the shared object cache), writes its own record to
reports/<run>/results.jsonl exactly as `python -m harness matrix` would, and maps the
status: pass -> passed, xfail -> xfailed (reason = known issue), skip -> skipped with the
reason, fail / error -> failed, xpass -> failed ("XPASS(strict)"), so a fixed known issue
is loud.  Use `--dist loadgroup` to keep a job's items on one worker.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from harness import results as res
from harness.corpus import CORPUS_DIR, EXCLUDED_DIRS, load_case
from harness.errors import HarnessError
from harness.stages import STAGES

_jobs: dict[tuple, dict] = {}
_lock = threading.Lock()


def pytest_addoption(parser):
    g = parser.getgroup("bpf-harness", "BPF corpus matrix")
    g.addoption("--toolchain", default="all",
                help="comma list of toolchains for corpus items (default: all declared)")
    g.addoption("--stages", default=",".join(STAGES), help="comma list of stages to run")
    g.addoption("--harness-run", default=None, help="run name: reports/<run>/ (default: $HARNESS_RUN or 'local')")
    g.addoption("--harness-reports", default=None, help="reports directory (default: reports/)")
    g.addoption("--mcpu", default=None, help="override -mcpu for every case")


def _is_case(path: Path) -> bool:
    try:
        rel = path.resolve().relative_to(CORPUS_DIR)
    except ValueError:
        return False
    return path.suffix == ".c" and rel.parts[0] not in EXCLUDED_DIRS


def pytest_collect_file(file_path: Path, parent):
    if _is_case(file_path):
        return CorpusFile.from_parent(parent, path=file_path)
    return None


class CorpusFile(pytest.File):
    def collect(self):
        from harness.matrix import planned
        from harness.toolchains import select

        cfg = self.config
        try:
            case = load_case(self.path)
            toolchains = select(cfg.getoption("toolchain"))
        except HarnessError as exc:
            raise self.CollectError(str(exc)) from None
        stages = [s for s in cfg.getoption("stages").split(",") if s]
        for tc in toolchains:
            for stage, program in planned(case, stages):
                name = f"{stage}[{tc.name}]" if program == "*" else f"{stage}:{program}[{tc.name}]"
                item = CorpusItem.from_parent(self, name=name, case=case, toolchain=tc, stage=stage,
                                              program=program, stages=stages)
                item.add_marker(pytest.mark.xdist_group(f"{case.name}@{tc.name}"))
                item.add_marker(pytest.mark.toolchain)
                yield item


class CorpusFailure(Exception):
    """A corpus item's failure: shown as its detail, without a Python traceback."""


class CorpusItem(pytest.Item):
    def __init__(self, *, case, toolchain, stage, program, stages, **kw):
        super().__init__(**kw)
        self.case, self.toolchain, self.stage, self.program, self.stages = case, toolchain, stage, program, stages

    def _records(self) -> dict:
        from harness.matrix import default_run_name, run_dir_for, run_job

        cfg = self.config
        run = cfg.getoption("harness_run") or default_run_name()
        mcpu = cfg.getoption("mcpu")
        key = (str(self.case.path), self.toolchain.name, mcpu, tuple(self.stages), run)
        with _lock:
            if key not in _jobs:
                run_dir = run_dir_for(run, cfg.getoption("harness_reports"))
                recs = run_job(self.case, self.toolchain, run_dir=run_dir, run_name=run,
                               stages=self.stages, mcpu=mcpu)
                _jobs[key] = {"run_dir": run_dir, "records": {(r["stage"], r["program"]): r for r in recs}}
            return _jobs[key]

    def runtest(self):
        job = self._records()
        rec = job["records"].get((self.stage, self.program))
        if rec is None:
            raise CorpusFailure(f"no {self.stage} result for program {self.program}")
        res.append(job["run_dir"] / "results.jsonl", rec)
        if self.stage == self.stages[0]:
            # records a stage returned beyond the planned items (e.g. a load stage's "*"
            # result) have no item of their own: the job's first item writes them, so the
            # results file matches `python -m harness matrix`.
            from harness.matrix import planned
            plan = set(planned(self.case, self.stages))
            for k, other in job["records"].items():
                if k not in plan:
                    res.append(job["run_dir"] / "results.jsonl", other)
        self.user_properties.append(("record", {k: rec.get(k) for k in ("status", "detail", "known_issue")}))
        status, detail = rec["status"], rec.get("detail", "")
        if status == "pass":
            return
        if status == "skip":
            pytest.skip(detail or "skipped")
        if status == "xfail":
            pytest.xfail(detail)
        if status == "xpass":
            raise CorpusFailure(f"XPASS(strict) {detail}")
        tail = (rec.get("stderr") or "").strip()[-2000:]
        raise CorpusFailure(f"{status.upper()}: {detail}" + (f"\n{tail}" if tail and status == "fail" else ""))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CorpusFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.case.name}::{self.program} [{self.toolchain.name}] {self.stage}"
