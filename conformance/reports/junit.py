"""JUnit XML (junit.xml) for CI systems: one testsuite per area, one testcase per check.

Mapping: FAIL -> <failure>, ERROR (could not test) and checks an interrupted run never finished
-> <error>, SKIP -> <skipped>; PASS, WARN and INFO are passing testcases (WARN and INFO are not
MUST violations) whose verdict and message are in <system-out> and a testcase property.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance.reports import register
from conformance.reports._common import area_of, by_area, finding, parse_time, xml_text

JUNIT_FILE = "junit.xml"


def _details(check: dict[str, Any]) -> str:
    lines = [
        f"verdict: {check.get('verdict', 'unfinished')}",
        f"section: {check.get('section', '')} ({check.get('level', '')}; {', '.join(check.get('requirements', []))})",
        f"requirement: {check.get('sentence', '')}",
    ]
    if check.get("message"):
        lines.append(f"message: {check['message']}")
    for label in ("expected", "actual"):
        if check.get(label) is not None:
            lines.append(f"{label}: {check[label]}")
    lines.extend(f"note: {note}" for note in check.get("notes", []))
    lines.append(f"exchanges: {', '.join('#' + str(e['id']) for e in check.get('exchanges', [])) or 'none'}")
    lines.append(f"reproduce: acme-conformance run --select {check.get('id', '')}")
    return "\n".join(lines)


def _testcase(parent: ET.Element, check: dict[str, Any], unfinished: bool = False) -> None:
    case = ET.SubElement(
        parent, "testcase",
        name=xml_text(check["id"]),
        classname=xml_text(f"acme-conformance.{area_of(check)}"),
        time=f"{float(check.get('duration') or 0):.3f}",
    )
    props = ET.SubElement(case, "properties")
    for name in ("section", "level"):
        ET.SubElement(props, "property", name=name, value=xml_text(check.get(name, "")))
    ET.SubElement(props, "property", name="verdict", value="UNFINISHED" if unfinished else check["verdict"])
    verdict = check.get("verdict")
    if unfinished:
        ET.SubElement(case, "error", message="the run was interrupted before this check reached a verdict",
                      type="interrupted")
    elif verdict == "FAIL":
        element = ET.SubElement(case, "failure", message=xml_text(finding(check)), type="FAIL")
        element.text = xml_text(_details(check))
    elif verdict == "ERROR":
        element = ET.SubElement(case, "error", message=xml_text(finding(check)), type="ERROR")
        element.text = xml_text(_details(check) + ("\n\n" + check["traceback"] if check.get("traceback") else ""))
    elif verdict == "SKIP":
        ET.SubElement(case, "skipped", message=xml_text(check.get("message", "")))
    out = ET.SubElement(case, "system-out")
    out.text = xml_text(_details(check))


def build(document: dict[str, Any]) -> ET.Element:
    checks = list(document.get("checks", []))
    unfinished = list(document.get("unfinished_checks", []))
    unfinished_ids = {c["id"] for c in unfinished}
    target = document.get("target", {})
    root = ET.Element("testsuites", name=xml_text(f"acme-conformance {target.get('name', '')}".strip()))
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    timestamp = parse_time(document.get("started"))
    for area, members in by_area(checks + unfinished).items():
        stats = {
            "tests": len(members),
            "failures": sum(1 for c in members if c.get("verdict") == "FAIL"),
            "errors": sum(1 for c in members if c.get("verdict") == "ERROR" or c["id"] in unfinished_ids),
            "skipped": sum(1 for c in members if c.get("verdict") == "SKIP"),
            "time": sum(float(c.get("duration") or 0) for c in members),
        }
        suite = ET.SubElement(
            root, "testsuite",
            name=xml_text(area),
            tests=str(stats["tests"]), failures=str(stats["failures"]), errors=str(stats["errors"]),
            skipped=str(stats["skipped"]), time=f"{stats['time']:.3f}",
            hostname=xml_text(target.get("directory_url", "")),
            **({"timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%S")} if timestamp else {}),
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (("target", target.get("name")), ("directory_url", target.get("directory_url")),
                            ("target_version", target.get("version")),
                            ("interrupted", str(bool(document.get("interrupted"))).lower())):
            ET.SubElement(props, "property", name=name, value=xml_text(value))
        for check in members:
            _testcase(suite, check, unfinished=check["id"] in unfinished_ids)
        for key in totals:
            totals[key] += stats[key]
    for key, value in totals.items():
        root.set(key, f"{value:.3f}" if key == "time" else str(value))
    return root


def render(document: dict[str, Any], run_dir: Path) -> Path:
    root = build(document)
    ET.indent(root)
    path = run_dir / JUNIT_FILE
    tmp = path.with_suffix(".xml.tmp")
    ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)
    return path


register("junit", render)
