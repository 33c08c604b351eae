"""Load stage: open the object with harness.libbpf and load it into a fresh emulated kernel.

Object-level ("*"): opened, the maps created (kernel name, type, value size) and any
libbpf-side failure (legacy `maps` section, bad relocation, ...) with libbpf's message.
Per program: every program is loaded (autoload forced on, as the selftest loader does one
by one); "loaded" passes, a kernel rejection passes only when the program is annotated
`__failure` (the verify stage checks the messages), and anything else fails with the
message libbpf would print.  extra["outcome"] is loaded / rejected / libbpf-error and
extra["signature"] the message, for corpus/expectations.toml.
The loaded object and kernel are left in job.shared["libbpf"] for later stages.
"""

from __future__ import annotations

from harness.stages import Job, StageResult, not_implemented


def _kernel():
    from harness.kernel import EmulatedKernel
    return EmulatedKernel()


def run(job: Job) -> list[StageResult]:
    missing = not_implemented(job, "libbpf loader", ("harness.libbpf.object",))
    if missing is not None:
        return missing
    from harness.errors import HarnessError
    from harness.kernelapi import BpfError
    from harness.libbpf.object import Object

    kernel = _kernel()
    try:
        # libbpf names the object after the file; ours sit in a content-addressed cache,
        # so use the source's stem as bpftool's skeleton would (`<case>.bpf.o` -> case).
        obj = Object.open(str(job.obj_path), kernel, obj_name=job.case.path.stem)
    except (BpfError, HarnessError) as exc:
        msg = exc.message if isinstance(exc, BpfError) else str(exc)
        extra = {"outcome": "libbpf-error", "signature": msg}
        return [StageResult("*", "fail", f"open failed: {msg}", extra)] + \
            [StageResult(p, "fail", "object did not open", extra) for p in job.programs]
    for p in obj.programs:
        p.autoload = True
    out: list[StageResult] = []
    try:
        obj.load(keep_going=True)
    except (BpfError, HarnessError) as exc:
        msg = exc.message if isinstance(exc, BpfError) else str(exc)
        extra = {"outcome": "libbpf-error", "signature": msg, "log": obj.log[-20:]}
        return [StageResult("*", "fail", f"load failed: {msg}", extra)] + \
            [StageResult(p.name, "fail", f"object load failed: {msg}", extra) for p in obj.programs]
    maps = [{"name": m.name, "user_name": m.user_name, "type": int(m.type), "value_size": m.value_size,
             "created": m.fd >= 0, "skipped": m.skipped_reason} for m in obj.maps]
    out.append(StageResult("*", "pass", f"{len(obj.programs)} programs, {len(obj.maps)} maps",
                           {"maps": maps, "outcome": "loaded"}))
    for p in obj.programs:
        ann = job.annotations.get(p.name)
        expect_fail = ann is not None and ann.expect_success is False
        if p.load_error is None:
            status = "fail" if expect_fail else "pass"
            detail = f"loaded ({len(p.final_insns)} insns)" + ("; annotated __failure" if expect_fail else "")
            out.append(StageResult(p.name, status, detail, {"outcome": "loaded", "log": p.log[-4000:]}))
            continue
        err = p.load_error
        kernel_rejected = p.prog_type != 0 and "referenced but wasn't created" not in err.message
        outcome = "rejected" if kernel_rejected else "libbpf-error"
        extra = {"outcome": outcome, "signature": err.message, "errno": err.errno_name,
                 "log": (err.log or "")[-4000:]}
        if kernel_rejected and expect_fail:
            out.append(StageResult(p.name, "pass", f"rejected as annotated: {err.message}", extra))
        else:
            out.append(StageResult(p.name, "fail", f"{err.errno_name}: {err.message}", extra))
    job.shared["libbpf"] = {"object": obj, "kernel": kernel}
    return out
