"""index.html: a static page with one coloured cases × toolchains table per stage and a
drill-down per cell (detail, command, compiler stderr, inspect summary)."""

from __future__ import annotations

import json
from html import escape

from harness.report.model import cell_id

COLOURS = {"pass": "#b7e4b0", "xfail": "#ffe08a", "fail": "#f4a3a3", "xpass": "#e07be0",
           "skip": "#e3e3e3", "error": "#ff8c5a"}
CSS = """body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #bbb;padding:3px 8px;text-align:center}td.row{text-align:left;font-family:monospace}
a.cell{display:block;color:#000;text-decoration:none}pre{background:#f6f6f6;padding:.5em;overflow:auto;
max-height:30em;white-space:pre-wrap}details{margin:.3em 0;border-left:4px solid #999;padding-left:.5em}
details:target{border-left-color:#06c}"""
JS = """function openHash(){var e=document.getElementById(location.hash.slice(1));if(e&&e.tagName==='DETAILS')
{e.open=true;e.scrollIntoView();}}window.addEventListener('hashchange',openHash);openHash();"""


def _pre(title: str, text) -> str:
    if not text:
        return ""
    if not isinstance(text, str):
        text = json.dumps(text, indent=2, sort_keys=True)
    return f"<p><b>{escape(title)}</b></p><pre>{escape(text)}</pre>"


def render(doc: dict) -> str:
    tcs = list(doc["toolchains"])
    recs = {(r["stage"], f"{r['case']}::{r['program']}", r["toolchain"]): r for r in doc["records"]}
    compile_of = {(r["case"], r["toolchain"]): r for r in doc["records"] if r["stage"] == "compile"}
    inspect_of = {(r["case"], r["toolchain"]): r for r in doc["records"]
                  if r["stage"] == "inspect" and r["program"] == "*"}
    h = ["<!doctype html><html><head><meta charset='utf-8'><title>BPF toolchain matrix</title>",
         f"<style>{CSS}</style></head><body><h1>BPF toolchain matrix</h1>",
         f"<p>Runs: {escape(', '.join(doc['runs']))} · generated {escape(doc['generated'])} · "
         + ", ".join(f"<span style='background:{COLOURS.get(k, '#fff')};padding:0 4px'>{escape(k)} {v}</span>"
                     for k, v in sorted(doc["totals"].items())) + "</p>",
         "<table><tr><th>toolchain</th><th>version</th><th>provider</th></tr>"]
    h += [f"<tr><td>{escape(n)}</td><td>{escape(t['version'] or '(not installed)')}</td>"
          f"<td>{escape(t.get('provider') or '')}</td></tr>" for n, t in doc["toolchains"].items()]
    h.append("</table>")
    for stage in doc["stages"]:
        h.append(f"<h2>{escape(stage)}</h2><table><tr><th>case::program</th>"
                 + "".join(f"<th>{escape(t)}</th>" for t in tcs) + "</tr>")
        for row, cells in doc["matrix"][stage].items():
            h.append(f"<tr><td class='row'>{escape(row)}</td>")
            for t in tcs:
                r = recs.get((stage, row, t))
                if r is None:
                    h.append("<td>·</td>")
                    continue
                label = r["status"] + (f" ({r['known_issue']})" if r.get("known_issue") else "")
                h.append(f"<td style='background:{COLOURS.get(r['status'], '#fff')}'>"
                         f"<a class='cell' href='#{cell_id(r)}' title='{escape(r.get('detail', ''))}'>"
                         f"{escape(label)}</a></td>")
            h.append("</tr>")
        h.append("</table>")
    h.append("<h2>Details</h2>")
    for r in doc["records"]:
        comp = compile_of.get((r["case"], r["toolchain"]), {})
        insp = inspect_of.get((r["case"], r["toolchain"]), {})
        info = {k: r.get(k) for k in ("status", "detail", "outcome", "signature", "known_issue", "expected",
                                     "version", "object_hash", "durations", "annotations_source",
                                     "annotations", "run", "host", "time") if r.get(k) not in (None, "")}
        h.append(f"<details id='{cell_id(r)}'><summary>{escape(r['case'])}::{escape(r['program'])} "
                 f"[{escape(r['toolchain'])}] {escape(r['stage'])}: <b>{escape(r['status'])}</b></summary>"
                 + _pre("record", info)
                 + _pre("command", " ".join(comp.get("command") or []))
                 + _pre("compiler stderr", comp.get("stderr"))
                 + _pre("log", r.get("log"))
                 + (_pre("inspect summary", (insp.get("extra") or {}).get("inspect"))
                    if r is insp else
                    f"<p><a href='#{cell_id(insp)}'>inspect summary</a></p>" if insp else "")
                 + "</details>")
    h.append(f"<script>{JS}</script></body></html>")
    return "\n".join(h) + "\n"
