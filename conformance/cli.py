"""Command line: ``acme-conformance run|list ...``.

Exit codes (documented in the README): 0 no FAIL, 1 at least one FAIL, 2 usage or
configuration error, 3 target unreachable or harness error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Callable, Sequence

from conformance import __version__

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_HARNESS = 3
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad options: shown as one clear line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 as well; we only make the message say what to do next.
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n(see '{self.prog} --help')\n")


# Each subcommand module contributes (name, help, add_arguments, handler).
Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def _commands() -> list[Command]:
    """Every module in conformance/commands that defines COMMANDS contributes its subcommands."""
    import conformance.commands as package

    commands: list[Command] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: (i.name != "run", i.name)):
        module = importlib.import_module(f"conformance.commands.{info.name}")
        commands.extend(getattr(module, "COMMANDS", []))
    return commands


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="acme-conformance",
        description="Conformance tester for ACME (RFC 8555) servers.",
    )
    parser.add_argument("--version", action="version", version=f"acme-conformance {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, help_text, add_arguments, handler in _commands():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(command_parser)
        command_parser.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.handler(args))
    except UsageError as exc:
        print(f"acme-conformance: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("acme-conformance: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
