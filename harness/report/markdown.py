"""summary.md: one cases × toolchains table per stage, then what needs attention."""

from __future__ import annotations

SHOW = {"pass": "pass", "fail": "**FAIL**", "xfail": "xfail", "xpass": "**XPASS**",
        "skip": "skip", "error": "**ERROR**"}


def _cell(c: dict | None) -> str:
    if c is None:
        return "·"
    s = SHOW.get(c["status"], c["status"])
    return f"{s} ({c['known_issue']})" if c.get("known_issue") else s


def render(doc: dict) -> str:
    tcs = list(doc["toolchains"])
    out = ["# BPF toolchain matrix", "",
           f"Runs: {', '.join(doc['runs']) or '-'} · generated {doc['generated']} · "
           f"{len(doc['records'])} records: "
           + ", ".join(f"{k} {v}" for k, v in sorted(doc["totals"].items())), "",
           "| toolchain | version |", "|---|---|"]
    out += [f"| {n} | {t['version'] or '(not installed)'} |" for n, t in doc["toolchains"].items()]
    for stage in doc["stages"]:
        out += ["", f"## {stage}", "", "| case::program | " + " | ".join(tcs) + " |",
                "|---|" + "---|" * len(tcs)]
        for row, cells in doc["matrix"][stage].items():
            out.append(f"| {row} | " + " | ".join(_cell(cells.get(t)) for t in tcs) + " |")
    loud = [r for r in doc["records"] if r["status"] in ("fail", "xpass", "error")]
    if loud:
        out += ["", "## Needs attention", ""]
        out += [f"- **{r['status'].upper()}** {r['case']}::{r['program']} [{r['toolchain']}] "
                f"{r['stage']}: {r.get('detail', '')}" for r in loud]
    xf = [r for r in doc["records"] if r["status"] == "xfail"]
    if xf:
        out += ["", "## Expected failures (known issues)", ""]
        out += [f"- {r['case']}::{r['program']} [{r['toolchain']}] {r['stage']}: {r.get('detail', '')}"
                for r in xf]
    return "\n".join(out) + "\n"
