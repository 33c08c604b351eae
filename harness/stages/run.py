"""Run stage (placeholder owned by the spine until the BPF VM (test_run) helper replaces it).

Reports skip "BPF VM (test_run) not implemented yet" for every program while harness.kernel.vm.interp is missing,
and skip "stage not wired yet" once it exists but this file has not been replaced.
See harness/stages/__init__.py for the contract.
"""

from __future__ import annotations

from harness.stages import Job, StageResult, not_implemented


def run(job: Job) -> list[StageResult]:
    missing = not_implemented(job, "BPF VM (test_run)", ("harness.kernel.vm.interp",))
    if missing is not None:
        return missing
    return [StageResult(p, "skip", "BPF VM (test_run) present; run stage not wired yet (harness/stages/run.py)")
            for p in job.programs]
