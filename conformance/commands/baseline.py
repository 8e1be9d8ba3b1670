"""``acme-conformance baseline --from RUN_DIR``, and the baseline/fail-policy options of ``run``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from conformance.baseline import BASELINE_VERDICTS, BaselineError, load_baseline, starting_baseline
from conformance.commands.common import OptionError
from conformance.model import Verdict
from conformance.policy import FAIL_ON_CHOICES, FailPolicy, PolicyOutcome, known_ids, load_policy


def add_policy_arguments(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    group.add_argument("--baseline", metavar="PATH",
                       help="TOML file (or directory of TOML files) of expected verdicts with reasons: "
                            "expected ones do not fail the run, stale entries do")
    group.add_argument("--fail-on", choices=FAIL_ON_CHOICES, default="fail",
                       help="fail the run on unexpected FAIL only (default), or on WARN as well")


def policy_from_args(args: argparse.Namespace) -> tuple[FailPolicy, list[str]]:
    try:
        return load_policy(args.baseline, args.fail_on, known_ids())
    except BaselineError as exc:
        raise OptionError(str(exc)) from exc


def print_policy(console: Console, policy: FailPolicy, outcome: PolicyOutcome, warnings: list[str]) -> None:
    """Which failures were expected, which are new, which baseline entries are stale.

    Silent for a plain run (no baseline, --fail-on fail): the console summary already shows everything.
    """
    if policy.baseline is None and policy.fail_on == "fail":
        return
    if console.quiet:
        # --quiet still has to say why a run failed: only the blocking parts, on stderr.
        for message in warnings:
            print(f"warning: {message}", file=sys.stderr)
        for judgement in outcome.stale:
            print(judgement.stale_message(), file=sys.stderr)
        for judgement in outcome.new:
            print(f"new failure: {judgement.check_id} {judgement.verdict.value}", file=sys.stderr)
        return
    entries = "no baseline" if policy.baseline is None else f"baseline of {len(policy.baseline)} entries"
    console.print(f"\n[bold]Fail policy[/] ({escape(entries)}, fail on {escape(policy.fail_on)})")
    for line in [f"warning: {w}" for w in warnings] + outcome.summary_lines():
        console.print(escape(line))
    if outcome.passed:
        console.print("[green]No new failures and no stale baseline entries.[/]")


def add_baseline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="run_dir", metavar="RUN_DIR", type=Path, required=True,
                        help="a run folder (reports/<run>/ with events.ndjson) to take the verdicts from")
    parser.add_argument("--output", "-o", metavar="FILE", type=Path,
                        help="write the baseline here (default: standard output); an existing file is kept "
                             "unless --force")
    parser.add_argument("--force", action="store_true", help="overwrite --output if it exists")
    parser.add_argument("--verdict", action="append", default=[], metavar="VERDICT",
                        help="verdicts to list (repeatable; default: FAIL, WARN and ERROR)")


def baseline_command(args: argparse.Namespace) -> int:
    from conformance.cli import UsageError
    from conformance.reports import load_document

    allowed = {v.value for v in BASELINE_VERDICTS}
    wanted = [v.upper() for v in args.verdict] or sorted(allowed)
    unknown = sorted(set(wanted) - allowed)
    if unknown:
        raise UsageError(f"--verdict {', '.join(unknown)}: a baseline lists only {', '.join(sorted(allowed))}")
    try:
        document = load_document(args.run_dir)
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise UsageError(str(exc)) from exc
    if document.get("interrupted") or document.get("harness_error"):
        print(f"acme-conformance: warning: {args.run_dir} is an incomplete run; the baseline lists only what "
              "it judged", file=sys.stderr)
    text = starting_baseline(document, [Verdict(v) for v in wanted], source=str(args.run_dir))
    if args.output is None:
        sys.stdout.write(text)
        return 0
    if args.output.exists() and not args.force:
        raise UsageError(f"{args.output} exists; pass --force to overwrite it")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    count = text.count("[[expected]]")
    print(f"wrote {count} entr{'y' if count == 1 else 'ies'} to {args.output}; edit each TODO reason before use",
          file=sys.stderr)
    return 0


def add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="baseline file or directory to validate")


def check_command(args: argparse.Namespace) -> int:
    """Validate a baseline without running anything (handy in a pre-commit hook)."""
    try:
        baseline = load_baseline(args.path)
    except BaselineError as exc:
        print(f"acme-conformance: {exc}", file=sys.stderr)
        return 1
    for entry in baseline.unknown_checks(known_ids()):
        print(f"warning: baseline entry {entry.source} names no known check {entry.check!r}", file=sys.stderr)
    print(f"{args.path}: {len(baseline)} entries from {len(baseline.sources)} file(s), valid")
    return 0


COMMANDS = [
    ("baseline", "write a starting baseline from a run's non-passing verdicts", add_baseline_arguments,
     baseline_command),
    ("baseline-check", "validate a baseline file or directory", add_check_arguments, check_command),
]
