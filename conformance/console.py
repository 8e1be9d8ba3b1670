"""Console output with rich: progress lines while the run goes, a summary table per area at the end,
and each failure with expected vs actual. Plain text (no colour, no live display) when stdout
is not a terminal, so CI logs stay readable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from conformance.model import CheckSpec, Verdict
from conformance.results import CheckResult, verdict_counts

VERDICT_STYLE = {
    Verdict.PASS: "green",
    Verdict.FAIL: "bold red",
    Verdict.WARN: "yellow",
    Verdict.INFO: "cyan",
    Verdict.SKIP: "dim",
    Verdict.ERROR: "bold magenta",
}
_ORDER = [Verdict.PASS, Verdict.FAIL, Verdict.WARN, Verdict.INFO, Verdict.SKIP, Verdict.ERROR]
_SHOWN_IN_DETAIL = (Verdict.FAIL, Verdict.WARN, Verdict.ERROR)


def make_console(quiet: bool = False) -> Console:
    # highlight=False: server-supplied text must not be re-coloured as if it were markup.
    return Console(highlight=False, quiet=quiet, soft_wrap=True)


class ConsoleReporter:
    def __init__(self, console: Console, total: int, verbose: bool = False) -> None:
        self.console = console
        self.total = total
        self.verbose = verbose
        self.done = 0

    def started(self, spec: CheckSpec) -> None:
        if self.verbose:
            self.console.print(f"[dim]… {escape(spec.id)}[/]")

    def finished(self, result: CheckResult) -> None:
        self.done += 1
        style = VERDICT_STYLE[result.verdict]
        line = f"[{self.done:>3}/{self.total}] [{style}]{result.verdict.value:<5}[/] {escape(result.spec.id)}"
        if result.verdict in _SHOWN_IN_DETAIL or self.verbose:
            line += f" [dim]— {escape(result.message)}[/]"
        self.console.print(line)

    def summary(self, results: Sequence[CheckResult], report_dir: str | None = None) -> None:
        console = self.console
        by_area: dict[str, list[CheckResult]] = defaultdict(list)
        for result in results:
            by_area[result.spec.area].append(result)
        table = Table(title="Conformance summary by area", show_lines=False)
        table.add_column("area")
        table.add_column("checks", justify="right")
        for verdict in _ORDER:
            table.add_column(verdict.value, justify="right", style=VERDICT_STYLE[verdict])
        for area in sorted(by_area):
            counts = verdict_counts(by_area[area])
            table.add_row(area, str(len(by_area[area])), *[str(counts[v.value] or "") for v in _ORDER])
        totals = verdict_counts(list(results))
        table.add_row("[bold]total[/]", str(len(results)), *[str(totals[v.value]) for v in _ORDER])
        console.print()
        console.print(table)

        problems = [r for r in results if r.verdict in _SHOWN_IN_DETAIL]
        order = {Verdict.ERROR: 0, Verdict.WARN: 1, Verdict.FAIL: 2}  # failures last: they matter most
        for result in sorted(problems, key=lambda r: (order[r.verdict], r.spec.id)):
            self._detail(result)
        if report_dir:
            console.print(f"\nReport written to [bold]{escape(report_dir)}[/]")

    def _detail(self, result: CheckResult) -> None:
        spec = result.spec
        style = VERDICT_STYLE[result.verdict]
        self.console.print(
            f"\n[{style}]{result.verdict.value}[/] [bold]{escape(spec.id)}[/] "
            f"({escape(spec.section)}, {escape(spec.level.value)}; {escape(', '.join(spec.requirements))})"
        )
        self.console.print(f"  {escape(spec.title)}")
        self.console.print(f"  [dim]RFC:[/] {escape(spec.sentence)}")
        self.console.print(f"  {escape(result.message)}")
        if result.expected is not None:
            self.console.print(f"  [dim]expected:[/] {escape(result.expected)}")
        if result.actual is not None:
            self.console.print(f"  [dim]actual:  [/] {escape(result.actual)}")
        for note in result.notes:
            self.console.print(f"  [dim]note:[/] {escape(note)}")
        if result.exchanges:
            last = result.exchanges[-1]
            status = last.status if last.status is not None else last.error
            self.console.print(
                f"  [dim]evidence:[/] {len(result.exchanges)} exchange(s); last: "
                f"{escape(last.method)} {escape(last.url)} -> {escape(str(status))}"
            )
        self.console.print(f"  [dim]reproduce:[/] acme-conformance run --select {escape(spec.id)}")
