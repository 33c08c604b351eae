"""Inspect stage: read the object with harness.elf and check what the source promised.

Object-level ("*"): the inspect summary (sections, programs, maps, BTF counts), .BTF
present, and whether the annotations came from BTF decl tags or (Clang < 14) from the
source.  Per program: it exists in the object, and its decl tags equal the source's
annotations when the toolchain emits decl tags.
"""

from __future__ import annotations

from harness.stages import Job, StageResult


def run(job: Job) -> list[StageResult]:
    try:
        from harness.elf.inspect_cmd import summarize
        from harness.elf.object import BpfObject
    except ImportError as exc:
        return [StageResult("*", "skip", f"harness.elf not available yet ({exc.name})")] + \
            [StageResult(p, "skip", "harness.elf not available yet") for p in job.case.program_names]
    try:
        obj = BpfObject.open(str(job.obj_path))
    except Exception as exc:
        return [StageResult("*", "fail", f"cannot open object: {exc}", {"outcome": "unreadable"})]
    summary = summarize(obj)
    # Functions in .text are subprograms (static helpers, global functions, callbacks),
    # not entry programs: libbpf never loads them on their own, so neither do we.
    obj_progs = {p["name"]: p for p in summary.get("programs", []) if p.get("section") != ".text"}
    job.shared["object_programs"] = list(obj_progs)
    job.shared["inspect"] = summary
    out = []
    problems = []
    if summary.get("btf") is None:
        problems.append("no .BTF")
    note = (f"annotations from {job.annotations_source}"
            + (" (object lacks decl tags: Clang < 14)" if job.major < 14 else ""))
    status = "fail" if problems else "pass"
    out.append(StageResult("*", status, "; ".join(problems + [note]),
                           {"inspect": summary, "annotations_source": job.annotations_source,
                            "decl_tags": job.major >= 14}))
    src_ann = job.case.source_annotations()
    for name in job.case.program_names:
        if name not in obj_progs:
            out.append(StageResult(name, "fail", "program missing from the object"))
            continue
        p = obj_progs[name]
        detail = f"{p.get('section')} {p.get('insn_count')} insns"
        if job.major >= 14 and job.annotations_source == "btf":
            want = src_ann.get(name)
            got = job.annotations.get(name)
            want_tags = want.tags if want else []
            got_tags = got.tags if got else []
            if want_tags != got_tags:
                out.append(StageResult(name, "fail", f"decl tags {got_tags} differ from source {want_tags}",
                                       {"program": p}))
                continue
        out.append(StageResult(name, "pass", detail, {"program": p}))
    for name in obj_progs:
        if name not in job.case.program_names:
            out.append(StageResult(name, "pass", "in object only (not found in source)",
                                   {"program": obj_progs[name]}))
    return out
