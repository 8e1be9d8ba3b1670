"""``acme-conformance run`` and ``acme-conformance list``."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from rich.markup import escape

from conformance.acme import SetupFailed
from conformance.commands.baseline import add_policy_arguments, policy_from_args, print_policy
from conformance.commands.common import (
    DEFAULT_REPORTS,
    OptionError,
    add_selection_arguments,
    add_target_arguments,
    new_run_dir,
    selection_from_args,
    target_options_from_args,
)
from conformance.console import ConsoleReporter, make_console
from conformance.context import RunContext
from conformance.events import EVENTS_FILE, EventWriter
from conformance.harness import open_harness
from conformance.model import CheckOutcome, CheckSpec
from conformance.profile import apply_run_limits
from conformance.registry import Selection, all_checks
from conformance.reports import RenderError, render_all
from conformance.results import CheckResult, RunRecord, verdict_counts
from conformance.runner import Runner
from conformance.targets.base import TargetError, TargetInfo
from conformance.targets.external import external_target

DEFAULT_WORKERS = 2  # this is sized for a small (2-core) machine; --workers raises it


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    add_selection_arguments(parser)
    run = parser.add_argument_group("run")
    run.add_argument("--report-dir", metavar="DIR", type=Path,
                     help=f"write the run here (default: a new folder under {DEFAULT_REPORTS}/)")
    run.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                     help=f"checks run concurrently (default {DEFAULT_WORKERS})")
    run.add_argument("--timeout", type=float, help="per-check time budget in seconds (default: each check's own)")
    run.add_argument("--request-timeout", type=float, metavar="SECONDS",
                     help="give up on an HTTP request after this long (default 10)")
    run.add_argument("--quiet", "-q", action="store_true", help="print only the final summary line")
    run.add_argument("--verbose", "-v", action="store_true", help="print every check's message")
    add_policy_arguments(run)


def _install_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C: everything started is stopped, results are kept."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@contextmanager
def _private_workdir() -> Iterator[Path]:
    # Server keys and configs live outside the report folder: artefacts must hold no key material.
    path = Path(tempfile.mkdtemp(prefix="acme-conformance-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _target_record(target: TargetInfo, directory: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "name": target.name,
        "directory_url": target.directory_url,
        "version": target.version,
        "notes": {k: v for k, v in target.notes.items() if k not in ("workdir", "log")},
        "directory": directory,
    }


def run_command(args: argparse.Namespace) -> int:
    from conformance.cli import EXIT_FAIL, EXIT_HARNESS, EXIT_INTERRUPTED, EXIT_OK, UsageError

    try:
        selection = selection_from_args(args)
        if args.workers < 1:
            raise OptionError("--workers must be at least 1")
        if args.timeout is not None and args.timeout <= 0:
            raise OptionError("--timeout must be a positive number of seconds")
        if args.request_timeout is not None and args.request_timeout <= 0:
            raise OptionError("--request-timeout must be a positive number of seconds")
        specs = selection.apply(all_checks())
        if not specs:
            raise OptionError("no check matches the selection (see 'acme-conformance list')")
        policy, baseline_warnings = policy_from_args(args)
    except OptionError as exc:
        raise UsageError(str(exc)) from exc

    console = make_console(quiet=args.quiet)
    _install_sigterm()
    with _private_workdir() as workdir:
        try:
            options = target_options_from_args(args, workdir)
            if options.directory is not None:
                external_target(options.directory, options.ca_bundle, options.insecure)  # validates URL and bundle
        except (OptionError, TargetError) as exc:
            raise UsageError(str(exc)) from exc
        if args.report_dir is not None:
            run_dir = args.report_dir
            if run_dir.exists() and any(run_dir.iterdir()):
                raise UsageError(f"--report-dir {run_dir} exists and is not empty; choose a new folder")
            run_dir.mkdir(parents=True, exist_ok=True)
        else:
            run_dir = new_run_dir(DEFAULT_REPORTS, "external" if options.directory else options.target)
        writer = EventWriter(run_dir / EVENTS_FILE)
        record = RunRecord(target={}, started=time.time(), selection=_selection_record(selection, args))
        results: list[CheckResult] = []
        exit_code = EXIT_OK
        started = False
        try:
            with open_harness(options) as harness:
                if harness.eab is not None:  # the HMAC key must never reach an artefact
                    writer.add_secret(harness.eab[1])
                run_ctx = RunContext(harness.target, harness.backend, harness.run_options(**_cli_run_options(args)), on_exchange=writer.exchange,
                                     management=harness.management)
                try:
                    directory, unreachable = _probe(run_ctx)
                    record.target = _target_record(harness.target, directory)
                    writer.run_started(record)
                    started = True
                    if unreachable is not None:
                        record.harness_error = f"the directory {harness.target.directory_url} did not answer: {unreachable}"
                        console.print(f"[bold red]Target unreachable:[/] {escape(record.harness_error)}")
                        exit_code = EXIT_HARNESS
                    else:
                        apply_run_limits(run_ctx)  # a profile's rate-limit budget
                        reporter = ConsoleReporter(console, len(specs), verbose=args.verbose, reproduce_args=(
                            f"--directory {options.directory}" if options.directory else ""))
                        if not args.quiet:
                            console.print(f"Testing [bold]{escape(harness.target.directory_url)}[/] "
                                          f"({escape(harness.target.name)}): {len(specs)} checks, {args.workers} workers")

                        def on_result(result: CheckResult) -> None:
                            writer.verdict(result)
                            reporter.finished(result)

                        def on_start(spec: CheckSpec) -> None:
                            writer.check_started(spec.describe())
                            reporter.started(spec)

                        check_timeout = args.timeout if args.timeout is not None else run_ctx.options.check_timeout
                        runner = Runner(run_ctx, workers=args.workers, timeout=check_timeout,
                                        on_start=on_start, on_result=on_result)
                        try:
                            results = runner.run_checks(specs)
                        finally:
                            results = runner.results
                            reporter.close()  # stop the live display, also on Ctrl-C
                        reporter.summary(results, str(run_dir))
                        outcome = policy.evaluate((r.spec.id, r.verdict) for r in results)
                        print_policy(console, policy, outcome, baseline_warnings)
                        exit_code = EXIT_FAIL if outcome.failed else EXIT_HARNESS if outcome.could_not_test else EXIT_OK
                finally:
                    run_ctx.close()
                    if harness.server_log is not None:
                        _keep_server_log(harness.server_log, run_dir)
        except TargetError as exc:
            record.harness_error = str(exc)
            console.print(f"[bold red]Target error:[/] {escape(str(exc))}")
            exit_code = EXIT_HARNESS
        except KeyboardInterrupt:
            record.interrupted = True
            exit_code = EXIT_INTERRUPTED
            console.print(f"\n[bold]Interrupted.[/] What was recorded so far is in {escape(str(run_dir))}")
        finally:
            finish_run(writer, record, results, run_dir, console, started=started)
        if args.quiet:
            counts = verdict_counts(results)
            print(" ".join(f"{k}={v}" for k, v in counts.items()) + f" report={run_dir}")
    return exit_code


def finish_run(writer: EventWriter, record: RunRecord, results: list[CheckResult], run_dir: Path, console: Any,
               *, started: bool) -> None:
    """Close the event stream (whatever happened) and render every report from it; shared by run and fuzz."""
    record.ended = time.time()
    if not started:
        writer.run_started(record)
    writer.run_finished(record, verdict_counts(results))
    writer.close()
    try:
        render_all(run_dir)
    except RenderError as exc:  # the event stream is intact; `report` can retry later
        console.print(f"[bold red]Report error:[/] {escape(str(exc))}")


def _cli_run_options(args: argparse.Namespace) -> dict[str, Any]:
    """RunOptions given on the command line (they win over a profile's)."""
    return {"request_timeout": args.request_timeout} if args.request_timeout is not None else {}


def _probe(run_ctx: RunContext) -> tuple[dict[str, Any] | None, str | None]:
    """Fetch the directory once before any check: (directory, None) when it is a JSON object,
    (None, None) when the server answers something else (the directory checks will say what),
    (None, reason) when nothing answers at all (connection, TLS or timeout failure).
    """
    try:
        return run_ctx.directory(), None
    except CheckOutcome as exc:
        # An answer whose body we could not read (too big, undecodable) is still an answer.
        return None, None if isinstance(exc, SetupFailed) or run_ctx.directory_answered else exc.message


def _keep_server_log(log_path: Path, run_dir: Path) -> None:
    try:
        if log_path.exists():
            shutil.copyfile(log_path, run_dir / "server.log")
    except OSError:
        pass  # the log is a convenience; losing it must not turn a run into an error


def _selection_record(selection: Selection, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "include": selection.include, "exclude": selection.exclude, "sections": selection.sections,
        "tags": selection.tags, "exclude_tags": selection.exclude_tags, "levels": selection.levels,
        "workers": args.workers, "timeout": args.timeout,
    }


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    add_selection_arguments(parser)
    parser.add_argument("--format", choices=("table", "json"), default="table")


def list_command(args: argparse.Namespace) -> int:
    from conformance.cli import UsageError

    try:
        specs = selection_from_args(args).apply(all_checks())
    except OptionError as exc:
        raise UsageError(str(exc)) from exc
    if args.format == "json":
        print(json.dumps([s.describe() for s in specs], indent=2))
        return 0
    _print_table(specs)
    return 0


def _print_table(specs: Sequence[CheckSpec]) -> None:
    from rich.table import Table

    console = make_console()
    table = Table(title=f"{len(specs)} checks")
    for column in ("id", "section", "level", "requirements", "tags"):
        table.add_column(column)
    for spec in specs:
        table.add_row(spec.id, spec.section, spec.level.value, ", ".join(spec.requirements), ", ".join(sorted(spec.tags)))
    console.print(table)


COMMANDS = [
    ("run", "run the conformance checks against a target", add_run_arguments, run_command),
    ("list", "list the checks (with the same selection options as run)", add_list_arguments, list_command),
]
