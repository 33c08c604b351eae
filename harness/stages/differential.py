"""Differential stage: the object on the emulated and on the running kernel, compared.

Both kernels get the same object through the same loader (harness.differential.objects):
verdict and errno per program, the kernel's reason line against ours and the processed
instruction count (when both sides really verified), the test-run retval on each CPU, and
every map's contents afterwards.  A program with any difference is a `fail` whose detail
lists the differences and whose extra keeps both observations; map differences are
reported on the object ("*").  extra["signature"] is the first difference's text, for
corpus/expectations.toml entries that record a known difference (e.g. the running kernel
lacking global per-CPU data) with a reason.

Where bpf(2) is not permitted every program is skipped with the probe's reason.
"""

from __future__ import annotations

from harness.stages import Job, StageResult, not_implemented


def _result(program: str, diffs, emu=None, real=None) -> StageResult:
    extra = {"differences": [d.to_dict() for d in diffs]}
    if emu is not None:
        extra["emulated"], extra["real"] = emu, real
    if not diffs:
        return StageResult(program, "pass", "both kernels agree", {**extra, "outcome": "agree"})
    extra["signature"] = diffs[0].text()
    return StageResult(program, "fail", "; ".join(d.text() for d in diffs), extra)


def run(job: Job) -> list[StageResult]:
    from harness.realkernel import probe
    available = probe()
    if not available.ok:
        return [StageResult(p, "skip", f"kernel BPF oracle unavailable: {available.reason}")
                for p in job.programs]
    missing = not_implemented(job, "libbpf loader", ("harness.libbpf.object",))
    if missing is not None:
        return missing
    from harness.differential.objects import diff_object
    d = diff_object(str(job.obj_path))
    maps = {"emulated": d.emulated.maps, "real": d.real.maps}
    out = [_result("*", d.object, maps["emulated"], maps["real"])]
    for name, diffs in d.programs.items():
        e, r = d.emulated.programs.get(name), d.real.programs.get(name)
        out.append(_result(name, diffs, e.to_dict() if e else None, r.to_dict() if r else None))
    for name in job.programs:
        if name not in d.programs:
            why = d.real.error or d.emulated.error or "not a program of the object"
            out.append(StageResult(name, "skip", f"not loaded on either kernel: {why}"))
    return out
