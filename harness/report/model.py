"""The report's data model, built from merged result records only (so results from any
number of shards or machines make one report)."""

from __future__ import annotations

import re
import time
from collections import Counter

from harness.results import STATUSES
from harness.stages import STAGES

SCHEMA = 1


def _tc_order(name: str, majors: dict[str, int]) -> tuple:
    return (majors.get(name, 0), name)


def build(records: list[dict], sources: list[str]) -> dict:
    """The report.json document (docs/report-schema.md)."""
    majors = {r["toolchain"]: r.get("major") or 0 for r in records}
    toolchains: dict[str, dict] = {}
    for r in records:
        t = toolchains.setdefault(r["toolchain"], {"version": "", "major": r.get("major"),
                                                   "provider": r.get("provider")})
        if r.get("version") and not t["version"]:
            t["version"] = r["version"]
    tc_names = sorted(toolchains, key=lambda n: _tc_order(n, majors))
    stages = [s for s in STAGES if any(r["stage"] == s for r in records)]
    stages += sorted({r["stage"] for r in records} - set(stages))
    matrix: dict[str, dict[str, dict[str, dict]]] = {s: {} for s in stages}
    for r in sorted(records, key=lambda r: (r["case"], r["program"] != "*", r["program"])):
        row = f"{r['case']}::{r['program']}"
        matrix[r["stage"]].setdefault(row, {})[r["toolchain"]] = {
            "status": r["status"], "detail": r.get("detail", ""), "known_issue": r.get("known_issue")}
    by_stage = {s: dict(Counter(r["status"] for r in records if r["stage"] == s)) for s in stages}
    return {
        "schema": SCHEMA,
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "sources": sources,
        "runs": sorted({r.get("run") or "" for r in records}),
        "toolchains": {n: toolchains[n] for n in tc_names},
        "stages": stages,
        "statuses": list(STATUSES),
        "totals": dict(Counter(r["status"] for r in records)),
        "by_stage": by_stage,
        "known_issues": sorted({r["known_issue"] for r in records if r.get("known_issue")}),
        "matrix": matrix,
        "records": records,
    }


def cell_id(r: dict) -> str:
    raw = f"{r['stage']}-{r['case']}-{r['program']}-{r['toolchain']}"
    return "c-" + re.sub(r"[^A-Za-z0-9_-]", "_", raw)
