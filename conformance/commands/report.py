"""``acme-conformance report|diff|matrix``: everything after a run, from its event stream alone.

* ``report RUN_DIR [--format json,junit,html,har]`` re-renders artefacts from events.ndjson;
* ``diff RUN_A RUN_B`` lists new failures, fixed ones and other changed verdicts (exit 1 on new failures);
* ``matrix RUN_DIR... --output DIR`` writes one page (HTML and Markdown): checks as rows, runs
  (servers) as columns, each cell linking to the check's evidence in that run's report.html.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from conformance.events import EVENTS_FILE
from conformance.reports import RenderError, known_formats, load_document, render_all
from conformance.reports._common import VERDICTS, counts
from conformance.reports._redact import redact

MATRIX_HTML = "matrix.html"
MATRIX_MD = "matrix.md"


def _run_document(path: Path) -> dict[str, Any]:
    from conformance.cli import UsageError

    if not path.is_dir():
        raise UsageError(f"{path} is not a folder (give the folder a run wrote, e.g. reports/<timestamp>-pebble)")
    if not (path / EVENTS_FILE).is_file():
        raise UsageError(f"{path} is not a run folder: it holds no {EVENTS_FILE}")
    return redact(load_document(path))


# -- report -------------------------------------------------------------------------------------


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="folder of a run (holds events.ndjson)")
    parser.add_argument("--format", default="all", metavar="FORMATS",
                        help="comma-separated formats to render: json, junit, html, har (default: all)")


def report_command(args: argparse.Namespace) -> int:
    from conformance.cli import UsageError

    _run_document(args.run_dir)  # validates the folder before anything is written
    known = known_formats()
    names = known if args.format == "all" else [n.strip() for n in args.format.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise UsageError(f"unknown report format(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}")
    try:
        paths = render_all(args.run_dir, names)
    except RenderError as exc:
        for path in exc.paths:
            print(path)
        print(f"acme-conformance: error: {exc}", file=sys.stderr)
        return 3
    for path in paths:
        print(path)
    return 0


# -- diff ---------------------------------------------------------------------------------------


@dataclass
class RunDiff:
    new_failures: list[tuple[str, str | None, str]] = field(default_factory=list)  # (id, before, after)
    fixed: list[tuple[str, str, str | None]] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)
    added: list[tuple[str, str]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "new_failures": [{"id": i, "before": b, "after": a} for i, b, a in self.new_failures],
            "fixed": [{"id": i, "before": b, "after": a} for i, b, a in self.fixed],
            "changed": [{"id": i, "before": b, "after": a} for i, b, a in self.changed],
            "added": [{"id": i, "verdict": v} for i, v in self.added],
            "removed": [{"id": i, "verdict": v} for i, v in self.removed],
        }


def diff_documents(before: dict[str, Any], after: dict[str, Any]) -> RunDiff:
    """Compare verdicts by check id. A FAIL that was not a FAIL before is a new failure (also for a
    check the first run did not have); a FAIL that became anything else is fixed."""
    old = {c["id"]: c["verdict"] for c in before.get("checks", [])}
    new = {c["id"]: c["verdict"] for c in after.get("checks", [])}
    result = RunDiff()
    for check_id in sorted(old.keys() | new.keys()):
        was, now = old.get(check_id), new.get(check_id)
        if now == "FAIL" and was != "FAIL":
            result.new_failures.append((check_id, was, now))
        elif was == "FAIL" and now != "FAIL":
            result.fixed.append((check_id, was, now))
        elif was is None and now is not None:
            result.added.append((check_id, now))
        elif now is None and was is not None:
            result.removed.append((check_id, was))
        elif was != now and was is not None and now is not None:
            result.changed.append((check_id, was, now))
    return result


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="the earlier run (baseline)")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="the later run")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def _label(document: dict[str, Any], path: Path) -> str:
    target = document.get("target", {})
    return f"{path} ({target.get('name', '?')}, {document.get('started') or '?'})"


def diff_command(args: argparse.Namespace) -> int:
    before, after = _run_document(args.run_a), _run_document(args.run_b)
    result = diff_documents(before, after)
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"A: {_label(before, args.run_a)}")
        print(f"B: {_label(after, args.run_b)}")
        for title, rows in (
            ("New failures", [f"{i}: {b or 'absent'} -> {a}" for i, b, a in result.new_failures]),
            ("Fixed", [f"{i}: {b} -> {a or 'absent'}" for i, b, a in result.fixed]),
            ("Changed verdicts", [f"{i}: {b} -> {a}" for i, b, a in result.changed]),
            ("Only in B", [f"{i}: {v}" for i, v in result.added]),
            ("Only in A", [f"{i}: {v}" for i, v in result.removed]),
        ):
            print(f"\n{title} ({len(rows)})")
            for row in rows:
                print(f"  {row}")
        for document, path in ((before, args.run_a), (after, args.run_b)):
            if document.get("interrupted"):
                print(f"\nnote: {path} was interrupted; its missing checks are listed as absent", file=sys.stderr)
    return 1 if result.new_failures else 0


# -- matrix -------------------------------------------------------------------------------------


def add_matrix_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR", help="run folders, one column each")
    parser.add_argument("--output", "-o", type=Path, required=True, metavar="DIR",
                        help=f"folder for {MATRIX_HTML} and {MATRIX_MD}")


def _column_labels(documents: list[dict[str, Any]], paths: list[Path]) -> list[str]:
    base = []
    for document in documents:
        target = document.get("target", {})
        name = target.get("name") or "?"
        version = target.get("version")
        base.append(f"{name} {version}" if version and version != "unknown" else name)
    # Two runs of the same server get their folder name too, or the columns could not be told apart.
    return [f"{label} ({path.name})" if base.count(label) > 1 else label for label, path in zip(base, paths, strict=True)]


def build_matrix(documents: list[dict[str, Any]], paths: list[Path], output: Path) -> dict[str, Any]:
    from conformance.reports.html import HTML_FILE, check_anchor

    labels = _column_labels(documents, paths)
    columns = []
    for document, path, label in zip(documents, paths, labels, strict=True):
        report = os.path.relpath(path.resolve() / HTML_FILE, output.resolve())
        columns.append({
            "label": label,
            "path": str(path),
            "report": quote(Path(report).as_posix()),
            "directory_url": document.get("target", {}).get("directory_url", ""),
            "counts": counts(document.get("checks", [])),
            "interrupted": bool(document.get("interrupted")),
            "verdicts": {c["id"]: c["verdict"] for c in document.get("checks", [])},
        })
    specs: dict[str, dict[str, Any]] = {}
    for document in documents:
        for check in document.get("checks", []):
            specs.setdefault(check["id"], check)
    rows = []
    for check_id in sorted(specs):
        spec = specs[check_id]
        cells = []
        for column in columns:
            verdict = column["verdicts"].get(check_id)
            link = f"{column['report']}#{quote(check_anchor(check_id))}" if verdict else None
            cells.append({"verdict": verdict, "link": link})
        # a check one run did not have is no disagreement between servers
        differs = len({c["verdict"] for c in cells if c["verdict"]}) > 1
        rows.append({"id": check_id, "title": spec.get("title", ""), "section": spec.get("section", ""),
                     "level": spec.get("level", ""), "sentence": spec.get("sentence", ""), "cells": cells,
                     "differs": differs,
                     "note": disagreement_note([c["label"] for c in columns], [c["verdict"] for c in cells],
                                               spec.get("section", "")) if differs else ""})
    return {"columns": columns, "rows": rows, "verdicts": VERDICTS}


_DEVIATIONS = ("FAIL", "WARN")
_NOT_JUDGED = ("SKIP", "ERROR")


def disagreement_note(labels: list[str], verdicts: list[str | None], section: str) -> str:
    """Which server the RFC supports where the verdicts differ (the check's sentence is the RFC's)."""
    by = {label: verdict for label, verdict in zip(labels, verdicts, strict=True) if verdict}

    def names(wanted: tuple[str, ...]) -> str:
        return ", ".join(label for label, verdict in by.items() if verdict in wanted)

    passing, deviating, unjudged = names(("PASS",)), names(_DEVIATIONS), names(_NOT_JUDGED)
    parts = []
    if passing and deviating:
        parts.append(f"{section} supports {passing}; {deviating} deviate(s)")
    elif deviating:
        kinds = ", ".join(f"{label} {verdict}" for label, verdict in by.items() if verdict in _DEVIATIONS)
        both = sum(1 for verdict in by.values() if verdict in _DEVIATIONS) > 1
        parts.append(f"{section} supports neither: {kinds} (FAIL breaks a MUST, WARN a SHOULD)" if both
                     else f"{kinds}: deviates from {section}")
    if "INFO" in by.values():
        parts.append(f"{names(('INFO',))}: INFO, a choice the RFC leaves to the server")
    if unjudged:
        details = ", ".join(f"{label} {by[label]}" for label in by if by[label] in _NOT_JUDGED)
        parts.append(f"not comparable for {details} (SKIP: not offered; ERROR: could not be tested)")
    return "; ".join(parts)


def _md(text: Any) -> str:
    """Text safe in a Markdown table cell (no pipes, no line breaks, no inline HTML)."""
    value = str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    return value.replace("<", "&lt;").replace(">", "&gt;")


def matrix_markdown(matrix: dict[str, Any]) -> str:
    columns = matrix["columns"]
    lines = ["# ACME conformance matrix", ""]
    for column in columns:
        tally = ", ".join(f"{v} {n}" for v, n in column["counts"].items() if n)
        note = " (interrupted)" if column["interrupted"] else ""
        lines.append(f"- **{_md(column['label'])}**{note}: `{_md(column['directory_url'])}`: {tally or 'no checks'}")
    lines += ["", "| check | section | level | " + " | ".join(_md(c["label"]) for c in columns) + " | where they differ |",
              "|---|---|---|" + "---|" * len(columns) + "---|"]
    for row in matrix["rows"]:
        cells = [f"[{c['verdict']}]({c['link']})" if c["verdict"] else "—" for c in row["cells"]]
        lines.append(f"| `{_md(row['id'])}` | {_md(row['section'])} | {_md(row['level'])} | " + " | ".join(cells)
                     + f" | {_md(row['note'])} |")
    return "\n".join(lines) + "\n"


def matrix_html(matrix: dict[str, Any]) -> str:
    from conformance.reports.html import _asset, _environment

    return _environment().get_template("matrix.html.j2").render(**matrix, style=_markup(_asset("report.css")))


def _markup(text: str) -> Any:
    from markupsafe import Markup

    return Markup(text)  # our own stylesheet, not server data


def matrix_command(args: argparse.Namespace) -> int:
    from conformance.reports.html import HTML_FILE

    documents = [_run_document(path) for path in args.run_dirs]
    for path in args.run_dirs:
        if not (path / HTML_FILE).is_file():  # the cells link into it
            render_all(path, ["html"])
    args.output.mkdir(parents=True, exist_ok=True)
    matrix = build_matrix(documents, list(args.run_dirs), args.output)
    (args.output / MATRIX_HTML).write_text(matrix_html(matrix), encoding="utf-8")
    (args.output / MATRIX_MD).write_text(matrix_markdown(matrix), encoding="utf-8")
    print(args.output / MATRIX_HTML)
    print(args.output / MATRIX_MD)
    return 0


COMMANDS = [
    ("report", "re-render a run's reports from its events.ndjson", add_report_arguments, report_command),
    ("diff", "compare two runs: new failures, fixed ones, changed verdicts (exit 1 on new failures)",
     add_diff_arguments, diff_command),
    ("matrix", "one page (HTML and Markdown) comparing runs against several servers", add_matrix_arguments,
     matrix_command),
]
