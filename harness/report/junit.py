"""junit.xml: a testsuite per stage, a testcase per record.

xfail is reported as skipped (type "xfail", message = known issue); xpass as a failure,
so CI systems show it loudly."""

from __future__ import annotations

import xml.etree.ElementTree as ET


def render(doc: dict) -> str:
    root = ET.Element("testsuites", name="bpf-harness")
    for stage in doc["stages"]:
        recs = [r for r in doc["records"] if r["stage"] == stage]
        suite = ET.SubElement(root, "testsuite", name=stage, tests=str(len(recs)),
                              failures=str(sum(r["status"] in ("fail", "xpass") for r in recs)),
                              errors=str(sum(r["status"] == "error" for r in recs)),
                              skipped=str(sum(r["status"] in ("skip", "xfail") for r in recs)))
        for r in recs:
            tc = ET.SubElement(suite, "testcase", classname=f"{stage}.{r['case'].replace('/', '.')}",
                               name=f"{r['program']}[{r['toolchain']}]",
                               time=f"{(r.get('durations') or {}).get('stage', 0):.3f}")
            detail = r.get("detail", "")
            if r["status"] in ("fail", "xpass"):
                el = ET.SubElement(tc, "failure", message=detail[:500], type=r["status"])
                el.text = r.get("stderr") or detail
            elif r["status"] == "error":
                ET.SubElement(tc, "error", message=detail[:500]).text = detail
            elif r["status"] == "skip":
                ET.SubElement(tc, "skipped", message=detail[:500])
            elif r["status"] == "xfail":
                ET.SubElement(tc, "skipped", type="xfail", message=f"xfail {r.get('known_issue')}: {detail}"[:500])
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
