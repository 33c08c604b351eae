"""Verify stage: our verifier's verdict per program, checked against its annotations.

For every program (libbpf loads each object into a fresh emulated kernel; every program is
autoloaded, so `__auxiliary` programs are loaded alongside as the selftest loader does) the
record carries our verdict (extra["outcome"]: verified / rejected / libbpf-error), the first
error line (extra["signature"]), the processed-instruction count (extra["processed"]) and the
log tail.  Programs with expectations (`__success` / `__failure`, `__msg`, `__not_msg`,
`__xlated`, `__log_level`, `__flag`, and the `_unpriv` forms in a CAP_BPF-only kernel) pass
when all of them match (harness/kernel/verifier/expect.py); the others pass when they load.
See harness/stages/__init__.py for the contract.
"""

from __future__ import annotations

import re

from harness.stages import Job, StageResult, not_implemented

_PROCESSED = re.compile(r"processed (\d+) insns")


def _load(job: Job, log_level: int, privileged: bool):
    from harness.kernel import EmulatedKernel, KernelConfig
    from harness.libbpf.object import Object
    kernel = EmulatedKernel(KernelConfig(privileged=privileged))
    obj = Object.open(str(job.obj_path), kernel, obj_name=job.case.path.stem)
    for p in obj.programs:
        p.autoload = True
        ann = job.annotations.get(p.name)
        if ann is not None and (ann.prog_flags or ann.prog_flags_cleared):
            p.prog_flags = (p.prog_flags | ann.prog_flags) & ~ann.prog_flags_cleared
    obj.load(keep_going=True, log_level=log_level)
    return obj, kernel


def _xlated(kernel, fd: int) -> str:
    from harness.isa import decode
    from harness.isa.disasm import disasm
    from harness.kernel.helpers.ids import func_id_name
    from harness.kernel.verifier.expect import xlated_text
    info = kernel.prog_get_info(fd)
    insns = decode(info.xlated)
    return xlated_text(disasm(insns, helper_name=lambda imm: func_id_name(imm)))


def _judge(p, kernel, ann, unpriv: bool) -> tuple[str, str, dict]:
    from harness.kernel.verifier import expect
    err = p.load_error
    loaded = err is None and p.fd >= 0
    log = p.log if loaded else ((err.log if err is not None else "") or "")
    m = _PROCESSED.findall(log)
    processed = int(m[-1]) if m else getattr(p, "verified_insns", 0)
    kernel_rejected = err is not None and "referenced but wasn't created" not in err.message
    outcome = "verified" if loaded else ("rejected" if kernel_rejected else "libbpf-error")
    extra = {"outcome": outcome, "processed": processed, "log": log[-4000:]}
    if err is not None:
        extra["signature"] = err.message
        extra["errno"] = err.errno_name
    problems: list[str] = []
    if ann is not None and ann.has_expectations:
        want = ann.expect_success_unpriv if unpriv and ann.expect_success_unpriv is not None \
            else ann.expect_success
        problems += expect.match_verdict(want, loaded)
        items = expect.msg_items(ann.tags, [] if unpriv else ann.msgs,
                                 [] if unpriv else ann.not_msgs, unpriv=unpriv)
        if unpriv and not items:
            items = expect.msg_items(ann.tags, ann.msgs, ann.not_msgs)
        if items:
            problems += expect.match_msgs(log, items)
        if ann.xlated and loaded:
            problems += expect.match_lines(_xlated(kernel, p.fd), ann.xlated)
        extra["mismatches"] = problems
        ok = not problems
    else:
        ok = loaded
    verdict = "verified" if loaded else f"rejected: {err.errno_name}: {err.message}" if err else "not loaded"
    detail = f"{verdict} ({processed} insns)" + (f"; {problems[0]}" if problems else "")
    return ("pass" if ok else "fail"), detail, extra


def run(job: Job) -> list[StageResult]:
    missing = not_implemented(job, "verifier", ("harness.kernel.verifier.verifier",))
    if missing is not None:
        return missing
    missing = not_implemented(job, "libbpf loader", ("harness.libbpf.object",))
    if missing is not None:
        return missing
    from harness.errors import HarnessError
    from harness.kernelapi import BpfError

    anns = job.annotations
    modes = [(False, lvl) for lvl in sorted({(a.log_level or 1) for a in anns.values()} or {1})]
    if any(a.expect_success_unpriv is not None or a.msgs_unpriv for a in anns.values()):
        modes.append((True, 1))
    results: dict[str, StageResult] = {}
    for unpriv, level in modes:
        try:
            obj, kernel = _load(job, level, privileged=not unpriv)
        except (BpfError, HarnessError) as exc:
            msg = exc.message if isinstance(exc, BpfError) else str(exc)
            return [StageResult("*", "fail", f"object load failed: {msg}",
                                {"outcome": "libbpf-error", "signature": msg})]
        for p in obj.programs:
            ann = anns.get(p.name)
            want_level = (ann.log_level or 1) if ann is not None else 1
            if want_level != level and not unpriv:
                continue
            if ann is not None and (ann.auxiliary or ann.auxiliary_unpriv) and not ann.has_expectations:
                continue
            if unpriv and (ann is None or (ann.expect_success_unpriv is None and not ann.msgs_unpriv)):
                continue
            name = p.name + (" @unpriv" if unpriv else "")
            if ann is not None and ann.auxiliary and not unpriv:
                results[name] = StageResult(name, "skip", "auxiliary program (loaded alongside the tests)")
                continue
            status, detail, extra = _judge(p, kernel, ann, unpriv)
            results[name] = StageResult(name, status, detail, extra)
    return list(results.values()) or [StageResult(p, "skip", "no program loaded") for p in job.programs]
