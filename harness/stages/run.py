"""Run stage: BPF_PROG_TEST_RUN of every program annotated `__retval`, like the selftests'
test_loader (upstream-spec §8.3).

Per test program: a fresh emulated kernel, the object opened with harness.libbpf and loaded
with only this program and the object's `__auxiliary` programs autoloaded (the annotation's
`__flag`s applied), then one test run -- 64 zero bytes of packet data and a 256-byte output
buffer, or no input at all for SYSCALL programs -- and (our one deviation from
test_loader, whose packet input the kernel's raw_tp runner refuses with EINVAL) for
raw tracepoint programs -- and the u32 retval compared with the
annotation (`POINTER_VALUE` means "do not compare").  Programs without `__retval`, or
annotated `__failure`, are skipped with the reason.  extra: retval, expected, output (the
program's trace_printk text), outcome ("ran" / "wrong-retval" / "load-failed" /
"run-error") and signature (the error message) for corpus/expectations.toml.
"""

from __future__ import annotations

from harness.stages import Job, StageResult, not_implemented

TEST_DATA_LEN = 64
OUT_BUF_LEN = 256
POINTER_VALUE = 0xBADCAFE


def _kernel():
    from harness.kernel.syscall import EmulatedKernel
    return EmulatedKernel()


def _load(job: Job, name: str):
    """(object, program) with `name` loaded, or raises BpfError / HarnessError."""
    from harness.libbpf.object import Object
    obj = Object.open(str(job.obj_path), _kernel())
    target = None
    for p in obj.programs:
        ann = job.annotations.get(p.name)
        p.autoload = p.name == name or bool(ann is not None and ann.auxiliary)
        if p.name == name:
            target = p
            if ann is not None:
                p.prog_flags = (p.prog_flags | ann.prog_flags) & ~ann.prog_flags_cleared
    if target is None:
        raise LookupError(f"program {name} is not in the object")
    obj.load(keep_going=True, log_level=0)
    return obj, target


def _run_one(job: Job, name: str, expected: int) -> StageResult:
    from harness.errors import HarnessError
    from harness.kernelapi import BpfError
    from harness.uapi import ProgType
    try:
        obj, prog = _load(job, name)
    except (BpfError, HarnessError, LookupError) as exc:
        msg = exc.message if isinstance(exc, BpfError) else str(exc)
        return StageResult(name, "fail", f"load failed: {msg}", {"outcome": "load-failed", "signature": msg})
    try:
        if prog.load_error is not None:
            err = prog.load_error
            return StageResult(name, "fail", f"load failed: {err.errno_name}: {err.message}",
                               {"outcome": "load-failed", "signature": err.message, "errno": err.errno_name})
        try:
            if prog.prog_type in (ProgType.SYSCALL, ProgType.RAW_TRACEPOINT, ProgType.RAW_TRACEPOINT_WRITABLE):
                res = prog.test_run()
            else:
                res = prog.test_run(data_in=bytes(TEST_DATA_LEN), data_size_out=OUT_BUF_LEN)
        except BpfError as exc:
            return StageResult(name, "fail", f"test_run failed: {exc.errno_name}: {exc.message}",
                               {"outcome": "run-error", "signature": exc.message, "errno": exc.errno_name})
        extra = {"retval": res.retval, "expected": expected, "output": res.output[-2000:]}
        if expected == POINTER_VALUE or res.retval == expected & 0xFFFFFFFF:
            return StageResult(name, "pass", f"retval {res.retval:#x}", {**extra, "outcome": "ran"})
        return StageResult(name, "fail", f"retval {res.retval:#x}, expected {expected & 0xFFFFFFFF:#x}",
                           {**extra, "outcome": "wrong-retval", "signature": f"retval {res.retval:#x}"})
    finally:
        obj.destroy()


def run(job: Job) -> list[StageResult]:
    missing = not_implemented(job, "libbpf loader", ("harness.libbpf.object",))
    if missing is not None:
        return [StageResult(r.program, "skip", "needs the loader (harness.libbpf)") for r in missing]
    out = []
    for name in job.programs:
        ann = job.annotations.get(name)
        if ann is None or ann.retval is None:
            out.append(StageResult(name, "skip", "no __retval annotation"))
        elif ann.auxiliary:
            out.append(StageResult(name, "skip", "__auxiliary program"))
        elif ann.expect_success is False:
            out.append(StageResult(name, "skip", "annotated __failure: nothing to run"))
        else:
            out.append(_run_one(job, name, ann.retval))
    return out
