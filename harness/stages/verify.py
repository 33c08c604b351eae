"""Verify stage (placeholder owned by the spine until the verifier helper replaces it).

Reports skip "verifier not implemented yet" for every program while harness.kernel.verifier.verifier is missing,
and skip "stage not wired yet" once it exists but this file has not been replaced.
See harness/stages/__init__.py for the contract.
"""

from __future__ import annotations

from harness.stages import Job, StageResult, not_implemented


def run(job: Job) -> list[StageResult]:
    missing = not_implemented(job, "verifier", ("harness.kernel.verifier.verifier",))
    if missing is not None:
        return missing
    return [StageResult(p, "skip", "verifier present; verify stage not wired yet (harness/stages/verify.py)")
            for p in job.programs]
