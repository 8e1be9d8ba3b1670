"""The console: live progress on a terminal, plain lines otherwise, and the final summary."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from conftest import needs_pebble
from rich.console import Console

from conformance.cli import main
from conformance.console import ConsoleReporter
from conformance.model import Verdict
from conformance.registry import get_check
from conformance.results import CheckResult

CHECKS = [
    ("directory.get-returns-json-object", Verdict.PASS, "the requirement holds", None, None),
    ("nonce.head-returns-200", Verdict.WARN, "HEAD newNonce answered 204", "200", "204"),
    ("nonce.cache-control-no-store", Verdict.FAIL, "HEAD newNonce is cacheable [bold]x[/]",
     'Cache-Control including "no-store"', "Cache-Control: no-cache"),
    ("nonce.get-returns-204", Verdict.ERROR, "could not test: the server did not answer", None, None),
]


def _results() -> list[CheckResult]:
    return [CheckResult(spec=get_check(i), verdict=v, message=m, started=time.time(), duration=0.01,
                        expected=e, actual=a) for i, v, m, e, a in CHECKS]


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=160, highlight=False, soft_wrap=True), out


def _feed(reporter: ConsoleReporter, results: list[CheckResult]) -> None:
    for result in results:
        reporter.started(result.spec)
        reporter.finished(result)


def test_plain_output_when_not_a_terminal() -> None:
    console, out = _console(terminal=False)
    reporter = ConsoleReporter(console, len(CHECKS))
    assert reporter.live is False
    _feed(reporter, _results())
    text = out.getvalue()
    assert "\x1b[" not in text  # no colour, no cursor movement: fit for CI logs
    lines = text.splitlines()
    assert len(lines) == len(CHECKS)
    assert lines[0].startswith("[  1/4] PASS ") and "directory.get-returns-json-object" in lines[0]
    assert "FAIL " in lines[2] and "HEAD newNonce is cacheable [bold]x[/]" in lines[2]  # server text stays literal


def test_live_progress_on_a_terminal() -> None:
    console, out = _console(terminal=True)
    reporter = ConsoleReporter(console, len(CHECKS))
    assert reporter.live is True
    results = _results()
    reporter.started(results[0].spec)
    assert reporter._progress is not None  # the live display runs while checks do
    reporter.finished(results[0])
    for result in results[1:]:
        reporter.started(result.spec)
        reporter.finished(result)
    reporter.close()
    assert reporter._progress is None
    text = out.getvalue()
    assert "checks" in text and "4/4" in text  # the bar with its count
    # On a terminal only findings scroll by, the passing check is carried by the bar.
    assert "nonce.cache-control-no-store" in text and "] PASS " not in text
    reporter.close()  # idempotent (the run calls it again on Ctrl-C)


def test_summary_groups_by_area_and_level_with_failures_last() -> None:
    console, out = _console(terminal=False)
    reporter = ConsoleReporter(console, len(CHECKS), reproduce_args="--directory https://ca.test/dir")
    results = _results()
    reporter.summary(results, "reports/run-1")
    text = out.getvalue()
    assert "summary by area" in text and "by requirement level" in text
    for area in ("directory", "nonce"):
        assert area in text
    for level in ("MUST", "SHOULD"):
        assert level in text
    error_at, warn_at, fail_at = (text.index(f"\n{v} {i}") for i, v in
                                  (("nonce.get-returns-204", "ERROR"), ("nonce.head-returns-200", "WARN"),
                                   ("nonce.cache-control-no-store", "FAIL")))
    assert error_at < warn_at < fail_at  # failures last: they stay in view
    failure = text[fail_at:]
    assert 'expected: Cache-Control including "no-store"' in failure and "actual:   Cache-Control: no-cache" in failure
    assert "reproduce: acme-conformance run --directory https://ca.test/dir --select nonce.cache-control-no-store" in failure
    assert "Report written to reports/run-1" in text


@needs_pebble
def test_quiet_prints_only_the_summary_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--select", "directory.*", "--report-dir", str(tmp_path / "r"), "--quiet"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("PASS=") and f"report={tmp_path / 'r'}" in out[0]
