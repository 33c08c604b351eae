"""Differential stage: the object on the emulated and on the running kernel, compared.

Both kernels get the same object through the same loader (harness.differential.objects):
verdict and errno per program, the kernel's reason line against ours and the processed
instruction count (when both sides really verified), the test-run retval on each CPU, and
every map's contents afterwards.  A program with any difference is a `fail` whose detail
lists the differences and whose extra keeps both observations.  The maps belong to the
whole object, so their differences are added to every program's record (an object-only
record cannot be targeted by an expectation: program "*" there matches every program);
a "*" record appears only when the object failed to open or load on a side.
extra["signature"] is all differences' text, so a corpus/expectations.toml entry can name
the one that explains a known difference (e.g. the running kernel lacking global per-CPU
data) with a reason.

Where bpf(2) is not permitted every program is skipped with the probe's reason.
"""

from __future__ import annotations

from harness.stages import Job, StageResult, not_implemented


def _result(program: str, diffs, emu=None, real=None, maps=None) -> StageResult:
    extra = {"differences": [d.to_dict() for d in diffs]}
    if emu is not None or real is not None:
        extra["emulated"], extra["real"] = emu, real
    if maps is not None:
        extra["maps"] = maps
    if not diffs:
        return StageResult(program, "pass", "both kernels agree", {**extra, "outcome": "agree"})
    text = "; ".join(d.text() for d in diffs)
    extra["signature"] = text
    return StageResult(program, "fail", text, extra)


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
    loaded = {name: diffs for name, diffs in d.programs.items()}
    out = []
    if d.emulated.error or d.real.error:
        out.append(_result("*", d.object, maps=maps))
    for name, diffs in loaded.items():
        e, r = d.emulated.programs.get(name), d.real.programs.get(name)
        # the maps are the object's: their differences belong to every program's record
        out.append(_result(name, diffs + d.object, e.to_dict() if e else None, r.to_dict() if r else None, maps))
    for name in job.programs:
        if name not in loaded:
            why = d.real.error or d.emulated.error or "not a program of the object"
            out.append(StageResult(name, "skip", f"not loaded on either kernel: {why}"))
    return out
