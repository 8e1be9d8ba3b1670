"""``acme-conformance fuzz`` (property-based exploration) and ``acme-conformance replay FINDING``."""

from __future__ import annotations

import argparse
import fnmatch
import time
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from conformance.commands.common import (
    DEFAULT_REPORTS,
    OptionError,
    add_target_arguments,
    new_run_dir,
    target_options_from_args,
)
from conformance.commands.run import (
    _install_sigterm,
    _keep_server_log,
    _private_workdir,
    _probe,
    _target_record,
    finish_run,
)
from conformance.console import make_console
from conformance.context import RunContext
from conformance.events import EVENTS_FILE, EventWriter
from conformance.fuzz.explore import DEFAULT_STEPS, Explorer, Finding
from conformance.fuzz.invariants import INVARIANTS
from conformance.fuzz.replay import FindingError, load_finding, replay
from conformance.fuzz.report import FuzzReport
from conformance.harness import open_harness
from conformance.model import Verdict
from conformance.results import RunRecord, verdict_counts
from conformance.targets.base import TargetError

DEFAULT_EXAMPLES = 100
DATABASE_DIR = "hypothesis"


def add_fuzz_arguments(parser: argparse.ArgumentParser) -> None:
    add_target_arguments(parser)
    fuzz = parser.add_argument_group("fuzz")
    budget = fuzz.add_mutually_exclusive_group()
    budget.add_argument("--max-examples", type=int, metavar="N",
                        help=f"stop after N generated step sequences (default {DEFAULT_EXAMPLES})")
    budget.add_argument("--duration", type=float, metavar="S", help="explore for S seconds instead")
    fuzz.add_argument("--seed", type=int, metavar="N", help="seed hypothesis: the same seed replays the same run")
    fuzz.add_argument("--steps", type=int, default=DEFAULT_STEPS, metavar="N",
                      help=f"protocol steps per generated sequence (default {DEFAULT_STEPS})")
    fuzz.add_argument("--exclude", metavar="GLOB", action="append", default=[],
                      help="still judge these invariants but do not shrink their failures, e.g. a known deviation "
                           "that would hide others (repeatable; they are reported unshrunk)")
    fuzz.add_argument("--no-settled-challenges", action="store_true",
                      help="never answer a challenge whose authorization is no longer pending (Pebble 2.4.0 "
                           "deadlocks when a deactivated authorization's challenge is answered)")
    fuzz.add_argument("--shrink-seconds", type=float, default=120.0, metavar="S",
                      help="time hypothesis may spend shrinking one run's failures (default 120)")
    fuzz.add_argument("--database", type=Path, metavar="DIR",
                      help=f"hypothesis example database (default: <report-dir>/{DATABASE_DIR}); point it at an "
                           "earlier run's folder to replay its saved examples first")
    fuzz.add_argument("--report-dir", metavar="DIR", type=Path,
                      help=f"write the run here (default: a new folder under {DEFAULT_REPORTS}/)")
    fuzz.add_argument("--quiet", "-q", action="store_true", help="print only the final summary line")


def _excluded(patterns: list[str]) -> frozenset[str]:
    chosen = {i for i in INVARIANTS if any(fnmatch.fnmatchcase(i, p) for p in patterns)}
    unknown = [p for p in patterns if not any(fnmatch.fnmatchcase(i, p) for i in INVARIANTS)]
    if unknown:
        raise OptionError(f"--exclude {', '.join(unknown)} matches no invariant (they are named fuzz.*)")
    return frozenset(chosen)


def _report_dir(args: argparse.Namespace, target_name: str) -> Path:
    if args.report_dir is None:
        return new_run_dir(DEFAULT_REPORTS, f"fuzz-{target_name}")
    run_dir: Path = args.report_dir
    if run_dir.exists() and any(run_dir.iterdir()):
        raise OptionError(f"--report-dir {run_dir} exists and is not empty; choose a new folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def fuzz_command(args: argparse.Namespace) -> int:
    from conformance.cli import EXIT_FAIL, EXIT_HARNESS, EXIT_INTERRUPTED, EXIT_OK, UsageError

    try:
        if args.max_examples is not None and args.max_examples < 1:
            raise OptionError("--max-examples must be at least 1")
        if args.duration is not None and args.duration <= 0:
            raise OptionError("--duration must be a positive number of seconds")
        if args.steps < 1:
            raise OptionError("--steps must be at least 1")
        excluded = _excluded(args.exclude)
    except OptionError as exc:
        raise UsageError(str(exc)) from exc
    console = make_console(quiet=args.quiet)
    _install_sigterm()
    with _private_workdir() as workdir:
        try:
            options = target_options_from_args(args, workdir)
            run_dir = _report_dir(args, "external" if options.directory else options.target)
        except OptionError as exc:
            raise UsageError(str(exc)) from exc
        writer = EventWriter(run_dir / EVENTS_FILE)
        selection = {"mode": "fuzz", "seed": args.seed, "duration": args.duration, "steps": args.steps,
                     "max_examples": None if args.duration else (args.max_examples or DEFAULT_EXAMPLES),
                     "excluded": sorted(excluded), "settled_challenges": not args.no_settled_challenges}
        record = RunRecord(target={}, started=time.time(), selection=selection)
        report: FuzzReport | None = None
        exit_code, started = EXIT_OK, False
        try:
            with open_harness(options) as harness:
                run = RunContext(harness.target, harness.backend, harness.run_options(),
                                 management=harness.management)
                try:
                    directory = _probe(run)
                    record.target = _target_record(harness.target, directory)
                    writer.run_started(record)
                    started = True
                    if directory is None:
                        record.harness_error = f"the directory {harness.target.directory_url} did not answer"
                        exit_code = EXIT_HARNESS
                    else:
                        report = FuzzReport(writer, run_dir, run)
                        exit_code = _explore(args, run, run_dir, report, excluded, console)
                finally:
                    run.close()
                    if harness.server_log is not None:
                        _keep_server_log(harness.server_log, run_dir)
        except TargetError as exc:
            record.harness_error = str(exc)
            console.print(f"[bold red]Target error:[/] {escape(str(exc))}")
            exit_code = EXIT_HARNESS
        except KeyboardInterrupt:
            record.interrupted = True
            exit_code = EXIT_INTERRUPTED
            console.print(f"\n[bold]Interrupted.[/] Findings so far are in {escape(str(run_dir))}")
        finally:
            finish_run(writer, record, report.results if report is not None else [], run_dir, console,
                       started=started)
        if args.quiet:
            counts = verdict_counts(report.results if report is not None else [])
            print(" ".join(f"{k}={v}" for k, v in counts.items()) + f" report={run_dir}")
    if exit_code == EXIT_OK and report is not None and any(r.verdict is Verdict.FAIL for r in report.results):
        exit_code = EXIT_FAIL
    return exit_code


def _explore(args: argparse.Namespace, run: RunContext, run_dir: Path, report: FuzzReport,
             excluded: frozenset[str], console: Console) -> int:
    from conformance.cli import EXIT_HARNESS, EXIT_OK

    def found(finding: Finding) -> None:
        result = report.finding(finding)
        console.print(
            f"[bold]{result.verdict.value}[/] {escape(finding.check_id)} "
            f"({escape(', '.join(result.spec.requirements))}): {escape(finding.violation.message)} "
            f"[dim]— {len(finding.steps)} steps, {escape(str(report.paths[finding.check_id]))}[/]"
        )

    explorer = Explorer(
        run,
        database_dir=args.database or run_dir / DATABASE_DIR,
        seed=args.seed,
        max_examples=None if args.duration else (args.max_examples or DEFAULT_EXAMPLES),
        duration=args.duration,
        step_count=args.steps,
        shrink_seconds=args.shrink_seconds,
        muted=excluded,
        settled_challenges=not args.no_settled_challenges,
        on_finding=found,
    )
    budget = f"{args.duration:g} s" if args.duration else f"{explorer.max_examples} examples"
    console.print(f"Fuzzing [bold]{escape(run.target.directory_url)}[/] ({escape(run.target.name)}) for {budget}"
                  + (f", seed {args.seed}" if args.seed is not None else ""))
    try:
        explorer.explore()
    finally:
        report.finish(explorer)
    counts = verdict_counts(report.results)
    console.print(f"{explorer.examples} examples, {explorer.requests} requests: "
                  + ", ".join(f"{k} {v}" for k, v in counts.items() if v) + f" — report in {escape(str(run_dir))}")
    for error in explorer.harness_errors:
        console.print(f"[bold red]Harness error:[/] {escape(error)}")
    return EXIT_HARNESS if explorer.harness_errors else EXIT_OK


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("finding", type=Path, help="a findings/<check>.json file written by 'acme-conformance fuzz'")
    add_target_arguments(parser)


def replay_command(args: argparse.Namespace) -> int:
    from conformance.cli import EXIT_FAIL, EXIT_HARNESS, EXIT_OK, UsageError

    try:
        finding = load_finding(args.finding)
    except FindingError as exc:
        raise UsageError(str(exc)) from exc
    _install_sigterm()
    with _private_workdir() as workdir:
        try:
            options = target_options_from_args(args, workdir)
        except OptionError as exc:
            raise UsageError(str(exc)) from exc
        try:
            with open_harness(options) as harness:
                run = RunContext(harness.target, harness.backend, harness.run_options(),
                                 management=harness.management)
                try:
                    result = replay(finding, run)
                finally:
                    run.close()
        except TargetError as exc:
            print(f"acme-conformance: target error: {exc}")
            return EXIT_HARNESS
    steps = f"{result.steps_run}/{len(finding['steps'])} steps"
    if result.error is not None:
        print(f"COULD NOT REPLAY {result.check} ({steps}): {result.error}")
        return EXIT_HARNESS
    if result.still_fails and result.violation is not None:
        print(f"STILL FAILS {result.check} ({', '.join(result.violation.to_dict()['requirements'])}) after {steps}: "
              f"{result.violation.message}; expected {result.violation.expected}, got {result.violation.actual}")
        return EXIT_FAIL
    print(f"FIXED {result.check}: the {steps} ran without the deviation")
    return EXIT_OK


COMMANDS = [
    ("fuzz", "explore a target with generated protocol sequences and mutated requests", add_fuzz_arguments,
     fuzz_command),
    ("replay", "re-run a saved fuzz finding against a target: FIXED or STILL FAILS", add_replay_arguments,
     replay_command),
]
