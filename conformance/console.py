"""Console output with rich.

On a terminal: a live progress bar with the checks being run and the running verdict counts;
findings (FAIL, WARN, ERROR; every check with --verbose) are printed above it as they come. When
stdout is not a terminal (CI logs, pipes): plain lines, one per check, no colour, no cursor
movement. At the end: a summary per area and per level, then each finding with expected vs actual
and the command that reproduces it, failures last (they matter most and stay in view).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
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
_LEVEL_ORDER = ["MUST", "MUST NOT", "REQUIRED", "SHALL", "SHOULD", "SHOULD NOT", "RECOMMENDED", "MAY", "OPTIONAL",
                "descr."]


def make_console(quiet: bool = False) -> Console:
    # highlight=False: server-supplied text must not be re-coloured as if it were markup.
    return Console(highlight=False, quiet=quiet, soft_wrap=True)


class ConsoleReporter:
    """Receives check starts and results (from worker threads too) and shows them."""

    def __init__(self, console: Console, total: int, verbose: bool = False, *, live: bool | None = None,
                 reproduce_args: str = "") -> None:
        self.console = console
        self.total = total
        self.verbose = verbose
        self.done = 0
        # Extra options for the "reproduce:" lines (e.g. the --directory of an external target).
        self.reproduce_args = reproduce_args
        self.live = console.is_terminal and not console.quiet if live is None else live
        self._lock = threading.Lock()
        self._running: list[str] = []
        self._counts = {verdict: 0 for verdict in _ORDER}
        self._progress: Progress | None = None
        self._task: int | None = None

    # -- live display --------------------------------------------------------------------------

    def _ensure_progress(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]checks"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                TextColumn("[dim]{task.fields[current]}"),
                console=self.console,
                transient=True,  # the bar goes away at the end; the summary replaces it
            )
            self._task = self._progress.add_task("checks", total=self.total, counts="", current="")
            self._progress.start()
        return self._progress

    def _counts_text(self) -> str:
        return " ".join(f"[{VERDICT_STYLE[v]}]{v.value} {n}[/]" for v, n in self._counts.items() if n)

    def _refresh(self) -> None:
        if self._progress is None or self._task is None:
            return
        # One name keeps the line short on a narrow terminal; "+N" says how many more run with it.
        current = escape(self._running[0]) if self._running else ""
        if len(self._running) > 1:
            current += f" +{len(self._running) - 1}"
        self._progress.update(self._task, completed=self.done, counts=self._counts_text(), current=current)

    def close(self) -> None:
        """Stop the live display (also on Ctrl-C, so the terminal is left clean)."""
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    # -- events --------------------------------------------------------------------------------

    def started(self, spec: CheckSpec) -> None:
        with self._lock:
            self._running.append(spec.id)
            if self.live:
                self._ensure_progress()
                self._refresh()
            elif self.verbose:
                self.console.print(f"[dim]… {escape(spec.id)}[/]")

    def finished(self, result: CheckResult) -> None:
        with self._lock:
            self.done += 1
            self._counts[result.verdict] += 1
            if result.spec.id in self._running:
                self._running.remove(result.spec.id)
            style = VERDICT_STYLE[result.verdict]
            line = f"[{self.done:>3}/{self.total}] [{style}]{result.verdict.value:<5}[/] {escape(result.spec.id)}"
            if result.verdict in _SHOWN_IN_DETAIL or self.verbose:
                line += f" [dim]— {escape(result.message)}[/]"
            if self.live:
                self._ensure_progress()
                # On a terminal only findings scroll by; the bar carries the rest.
                if result.verdict in _SHOWN_IN_DETAIL or self.verbose:
                    self.console.print(line)
                self._refresh()
            else:
                self.console.print(line)

    # -- the end -------------------------------------------------------------------------------

    def summary(self, results: Sequence[CheckResult], report_dir: str | None = None) -> None:
        self.close()
        console = self.console
        console.print()
        console.print(self._table("area", "Conformance summary by area", results, lambda r: r.spec.area, sorted))
        console.print(self._table(
            "level", "by requirement level", results, lambda r: r.spec.level.value,
            lambda keys: sorted(keys, key=lambda k: _LEVEL_ORDER.index(k) if k in _LEVEL_ORDER else 99),
        ))

        problems = [r for r in results if r.verdict in _SHOWN_IN_DETAIL]
        order = {Verdict.ERROR: 0, Verdict.WARN: 1, Verdict.FAIL: 2}  # failures last: they matter most
        for result in sorted(problems, key=lambda r: (order[r.verdict], r.spec.id)):
            self._detail(result)
        if report_dir:
            console.print(f"\nReport written to [bold]{escape(report_dir)}[/] (report.html, results.json, junit.xml, "
                          "exchanges.har; re-render with 'acme-conformance report')")

    def _table(self, column: str, title: str, results: Sequence[CheckResult], key, order) -> Table:  # type: ignore[no-untyped-def]
        groups: dict[str, list[CheckResult]] = defaultdict(list)
        for result in results:
            groups[key(result)].append(result)
        table = Table(title=title, show_lines=False)
        table.add_column(column)
        table.add_column("checks", justify="right")
        for verdict in _ORDER:
            table.add_column(verdict.value, justify="right", style=VERDICT_STYLE[verdict])
        for name in order(groups):
            counts = verdict_counts(groups[name])
            table.add_row(escape(name), str(len(groups[name])), *[str(counts[v.value] or "") for v in _ORDER])
        totals = verdict_counts(list(results))
        table.add_row("[bold]total[/]", str(len(results)), *[str(totals[v.value]) for v in _ORDER])
        return table

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
                f"  [dim]evidence:[/] {len(result.exchanges)} exchange(s) (report.html#check-{escape(spec.id)}); "
                f"last: {escape(last.method)} {escape(last.url)} -> {escape(str(status))}"
            )
        extra = f" {self.reproduce_args}" if self.reproduce_args else ""
        self.console.print(f"  [dim]reproduce:[/] acme-conformance run{escape(extra)} --select {escape(spec.id)}")
