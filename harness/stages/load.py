"""Load stage (placeholder owned by the spine until the libbpf loader helper replaces it).

Reports skip "libbpf loader not implemented yet" for every program while harness.libbpf.object is missing,
and skip "stage not wired yet" once it exists but this file has not been replaced.
See harness/stages/__init__.py for the contract.
"""

from __future__ import annotations

from harness.stages import Job, StageResult, not_implemented


def run(job: Job) -> list[StageResult]:
    missing = not_implemented(job, "libbpf loader", ("harness.libbpf.object",))
    if missing is not None:
        return missing
    return [StageResult(p, "skip", "libbpf loader present; load stage not wired yet (harness/stages/load.py)")
            for p in job.programs]
