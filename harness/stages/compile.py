"""Compile stage: one object-level result from harness.compile (cached)."""

from __future__ import annotations

from harness.compile import compile_source
from harness.stages import Job, StageResult

# compile outcome -> stage status before expectations are applied
STATUS = {"ok": "pass", "error": "fail", "crash": "fail", "timeout": "error", "missing": "skip"}


def run(job: Job) -> list[StageResult]:
    tc = job.toolchain
    if not tc.supports_mcpu(job.mcpu):
        return [StageResult("*", "skip", f"{tc.name} (LLVM {tc.major}) does not accept -mcpu={job.mcpu}",
                            {"outcome": "unsupported"})]
    res = compile_source(job.case.path, tc, mcpu=job.mcpu, cflags=job.case.cflags,
                         cache_dir=job.cache_dir, work_dir=job.run_dir)
    job.compile = res
    job.version = res.version or job.version
    if res.ok:
        job.obj_path, job.obj_hash = res.obj_path, res.obj_hash
    detail = {"ok": "cache hit" if res.cached else f"compiled in {res.duration:.2f}s",
              "missing": res.stderr}.get(res.status, f"{res.status}: {res.signature}")
    extra = {"outcome": res.status, "signature": res.signature, "cached": res.cached,
             "command": res.command, "stderr": res.stderr, "compile_s": res.duration,
             "returncode": res.returncode, "mcpu": res.mcpu}
    if res.leftovers:
        extra["leftovers"] = res.leftovers
    return [StageResult("*", STATUS[res.status], detail, extra)]
