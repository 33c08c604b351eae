"""Stage plug-ins: compile, inspect, load, verify, run (later: differential).

THE CONTRACT (keep it this small):

    # harness/stages/<name>.py
    def run(job: Job) -> list[StageResult]: ...

* `job` is a `Job` (below): the case (path, name, per-program annotations), the
  toolchain (name, version string, major), the object path and hash (None when the
  compile failed), the run dir, and the results of the earlier stages by stage name.
* Return one StageResult per program (its function name), or program "*" for a result
  about the whole object.  status is one of pass / fail / error / skip; `detail` is a
  one-line human summary; `extra` is a JSON-able dict kept in the record (e.g.
  {"log": verifier log, "retval": 3, "command": [...], "stderr": "...", "outcome": ...}).
  `extra["outcome"]` (default: status) and `extra["signature"]` are what
  corpus/expectations.toml entries are matched against.
* Do NOT apply expectations (xfail/xpass): the matrix does, uniformly.
* Never kill the run: an exception escaping run() becomes an `error` record carrying the
  message (run_stage below).  Missing prerequisites (no kernel, component not written yet)
  are `skip` with a reason.
* Stages after compile are only called when there is an object; otherwise the matrix
  records skip ("no object: compile <outcome>") for every program.
* A stage may store objects for later stages in `job.shared` (e.g. a loaded object).
"""

from __future__ import annotations

import importlib
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGES = ("compile", "inspect", "load", "verify", "run", "differential")
STATUSES = ("pass", "fail", "error", "skip")


@dataclass
class StageResult:
    program: str            # function name, or "*" for the whole object
    status: str             # pass | fail | error | skip
    detail: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"stage status must be one of {STATUSES}, not {self.status!r}")


@dataclass
class Job:
    case: Any                               # harness.corpus.Case (path, name, programs)
    toolchain: Any                          # harness.toolchains.Toolchain (name, major, ...)
    version: str = ""                       # toolchain `--version` first line
    run_dir: Path | None = None
    mcpu: str = "v3"
    obj_path: Path | None = None            # None when the compile failed
    obj_hash: str | None = None
    annotations: dict = field(default_factory=dict)   # program -> harness.annotations.Annotations
    annotations_source: str = ""            # "btf" | "source" (Clang < 14 or no BTF)
    results: dict = field(default_factory=dict)       # stage -> list[StageResult]
    compile: Any = None                     # harness.compile.CompileResult
    cache_dir: Path | None = None
    shared: dict = field(default_factory=dict)

    @property
    def major(self) -> int:
        return self.toolchain.major

    @property
    def programs(self) -> list[str]:
        """Program names: from the object when inspect read it, else from the source."""
        from_obj = self.shared.get("object_programs")
        return list(from_obj) if from_obj else list(self.case.program_names)


def run_stage(name: str, job: Job) -> tuple[list[StageResult], float]:
    """Import harness.stages.<name> and run it; exceptions become one error record."""
    t0 = time.perf_counter()
    try:
        module = importlib.import_module(f"harness.stages.{name}")
        results = module.run(job)
        if not isinstance(results, list) or not all(isinstance(r, StageResult) for r in results):
            raise TypeError(f"stage {name} returned {type(results).__name__}, not list[StageResult]")
    except Exception as exc:  # a broken stage must not kill the run
        tb = traceback.format_exc(limit=6)
        results = [StageResult("*", "error", f"{type(exc).__name__}: {exc}", {"traceback": tb})]
    return results, time.perf_counter() - t0


def not_implemented(job: Job, component: str, probe_modules: tuple[str, ...]) -> list[StageResult] | None:
    """Skip records for every program when none of `probe_modules` can be imported."""
    for mod in probe_modules:
        try:
            importlib.import_module(mod)
            return None
        except ImportError:
            continue
    return [StageResult(p, "skip", f"{component} not implemented yet") for p in job.programs]
