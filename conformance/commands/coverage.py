"""``acme-conformance coverage``: every catalogue requirement, judged by which checks or why not."""

from __future__ import annotations

import argparse
import json

from rich.markup import escape
from rich.table import Table

from conformance.console import make_console
from conformance.coverage import compute_coverage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--missing", action="store_true", help="list only requirements no check judges")


def coverage_command(args: argparse.Namespace) -> int:
    coverage = compute_coverage()
    if args.format == "json":
        print(json.dumps(coverage.to_dict(), indent=2))
        return 0
    console = make_console()
    table = Table(title="Requirement coverage")
    for column in ("requirement", "section", "level", "judged by / reason"):
        table.add_column(column, overflow="fold")
    for entry in coverage.entries:
        if args.missing and entry.checks:
            continue
        detail = ", ".join(entry.checks) if entry.checks else f"[dim]{escape(entry.reason or 'UNACCOUNTED')}[/]"
        table.add_row(entry.requirement.id, escape(entry.requirement.section), escape(entry.requirement.level), detail)
    console.print(table)
    unaccounted = [e.requirement.id for e in coverage.entries if e.status == "unaccounted"]
    console.print(
        f"\n{coverage.judged} of {coverage.total} catalogue requirements are judged by at least one check "
        f"([bold]{coverage.percent:.1f}%[/]); {coverage.total - coverage.judged - len(unaccounted)} have a stated "
        f"reason; {len(unaccounted)} are unaccounted for."
    )
    if coverage.unknown_ids:
        console.print(f"[red]Checks name ids the catalogue lacks:[/] {escape(', '.join(coverage.unknown_ids))}")
    return 0


COMMANDS = [("coverage", "show which catalogue requirements the checks judge", add_arguments, coverage_command)]
