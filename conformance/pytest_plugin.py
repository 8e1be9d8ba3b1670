"""pytest plugin: the conformance checks as pytest items, for CI pipelines.

Inert unless asked: it collects nothing unless ``--acme`` (embedded Pebble), ``--acme-directory URL``
or the ini option ``acme_conformance = true`` is given, so a project's own test suite is unaffected.

Each check becomes an item ``acme::<check id>`` with markers for its level (``must``, ``should``...),
how a deviation grades (``grade_fail``, ``grade_warn``, ``grade_info``), its tags (``tag_account``),
its area (``area_nonce``) and its RFC section (``rfc8555``, ``rfc8555_s7``, ``rfc8555_s7_2``), so
``-k``, ``-m``, ``--junitxml`` and pytest-xdist work as usual. Verdicts map to outcomes through the
same fail policy as ``acme-conformance run`` (conformance/policy.py):

    PASS, INFO -> passed          SKIP -> skipped
    FAIL -> failed                WARN -> failed with --acme-fail-on warn, else passed + warning
    ERROR -> error ("could not test", reported apart from failures)
    verdict its baseline entry expects -> xfail
    baseline entry the check no longer confirms -> failed, naming the stale entry

The target (embedded Pebble with its responders, or the external server's responders) is started
lazily by the first check of a session — one per xdist worker — and stopped at the session's end.
Within a process checks run one at a time; use ``-n`` for concurrency.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import shutil
import signal
import tempfile
import threading
import time
import warnings
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from conformance.baseline import BaselineError
from conformance.model import KNOWN_TAGS, CheckOutcome, CheckSpec, Level, Verdict
from conformance.policy import FAIL_ON_CHOICES, Disposition, FailPolicy, Judgement, known_ids, load_policy
from conformance.registry import Selection, all_checks
from conformance.results import CheckResult, RunRecord, verdict_counts

PLUGIN_NAME = "acme_conformance"  # the pytest11 entry point name
COLLECTOR_NAME = "acme"

# pytest option suffix -> (acme-conformance CLI flag, metavar or None for a flag, repeatable, help).
# The values are handed to the CLI's own parser, so defaults and validation stay in one place.
_TARGET_OPTIONS = [
    ("directory", "URL", False, "directory URL of the ACME server to test (default: an embedded Pebble)"),
    ("ca-bundle", "FILE", False, "PEM CA certificates that sign the server's TLS certificate"),
    ("insecure", None, False, "do not verify the server's TLS certificate"),
    ("profile", "FILE", False, "TOML target profile describing the server (see the CLI's --profile)"),
    ("target", "NAME", False, "embedded server to start when no directory is given (default: pebble)"),
    ("eab-kid", "KID", False, "external account binding key id"),
    ("eab-hmac-key", "KEY", False, "external account binding HMAC key, base64url"),
    ("backend", "NAME", False, "challenge responders: builtin, challtestsrv or hook"),
    ("hook", "COMMAND", False, "with backend hook: COMMAND add|remove TYPE IDENTIFIER TOKEN VALUE"),
    ("challtestsrv-url", "URL", False, "with backend challtestsrv: its management URL"),
    ("responder-host", "ADDR", False, "address the responders bind"),
    ("http-port", "PORT", False, "http-01 responder port"),
    ("dns-port", "PORT", False, "DNS responder port"),
    ("tls-port", "PORT", False, "tls-alpn-01 responder port"),
    ("answer-address", "ADDR", False, "IPv4 address the DNS responder answers"),
    ("pebble-env", "KEY=VALUE", True, "environment for the embedded Pebble (repeatable)"),
    ("pebble-strict", None, False, "start the embedded Pebble with -strict"),
]
_SELECTION_OPTIONS = [
    ("select", "GLOB", True, "collect checks whose id matches (repeatable), e.g. 'nonce.*'"),
    ("exclude", "GLOB", True, "leave out checks whose id matches (repeatable)"),
    ("section", "SECTION", True, "collect checks of an RFC section, e.g. 7.2 (repeatable)"),
    ("tag", "TAG", True, "collect checks with this tag (repeatable)"),
    ("exclude-tag", "TAG", True, "leave out checks with this tag (repeatable)"),
    ("level", "LEVEL", True, "collect checks of this level: MUST, SHOULD, ... (repeatable)"),
]
# ini options (pytest.ini / pyproject [tool.pytest.ini_options]) a project can pin instead of flags.
_INI_VALUES = ("directory", "ca-bundle", "baseline", "fail-on", "profile")


class AcmeConformanceWarning(UserWarning):
    """A WARN verdict that does not fail the run, or a baseline entry naming no known check."""


class _CheckProblem(Exception):
    """Ends an item with a finding; shown as the finding's text, without a Python traceback."""


class _CouldNotTest(_CheckProblem):
    pass


# -- options ----------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser, pluginmanager: pytest.PytestPluginManager) -> None:
    _claim_entry_point_name(pluginmanager)
    group = parser.getgroup("acme-conformance", "ACME conformance checks (acme-conformance)")
    group.addoption("--acme", action="store_true", default=False,
                    help="collect the ACME conformance checks (embedded Pebble unless --acme-directory)")
    for name, metavar, repeatable, help_text in _TARGET_OPTIONS + _SELECTION_OPTIONS:
        dest = "acme_" + name.replace("-", "_")
        if metavar is None:
            group.addoption(f"--acme-{name}", dest=dest, action="store_true", default=False, help=help_text)
        else:
            group.addoption(f"--acme-{name}", dest=dest, metavar=metavar, default=[] if repeatable else None,
                            action="append" if repeatable else "store", help=help_text)
    group.addoption("--acme-baseline", metavar="PATH", dest="acme_baseline",
                    help="TOML file or directory of expected verdicts (with reasons); stale entries fail")
    group.addoption("--acme-fail-on", choices=FAIL_ON_CHOICES, dest="acme_fail_on",
                    help="fail on unexpected FAIL only (default) or on WARN as well")
    group.addoption("--acme-timeout", type=float, metavar="SECONDS", dest="acme_timeout",
                    help="per-check time budget (default: each check's own)")
    group.addoption("--acme-report-dir", metavar="DIR", dest="acme_report_dir",
                    help="write the run's events and reports here (one subfolder per xdist worker)")
    parser.addini("acme_conformance", type="bool", default=False,
                  help="collect the ACME conformance checks (like --acme)")
    for name in _INI_VALUES:
        parser.addini("acme_" + name.replace("-", "_"), help=f"default for --acme-{name}")


def _claim_entry_point_name(pluginmanager: pytest.PytestPluginManager) -> None:
    """Let ``-p conformance.pytest_plugin`` and the pytest11 entry point coexist.

    ``-p`` registers this module under its dotted name before entry points load; the entry point
    would then register the same module a second time and pluggy refuses. Blocking the entry point
    name when we arrived by another one keeps a single registration.
    """
    module = inspect.getmodule(_claim_entry_point_name)
    name = pluginmanager.get_name(module) if module is not None else None
    if name is not None and name != PLUGIN_NAME and pluginmanager.get_plugin(PLUGIN_NAME) is None:
        pluginmanager.set_blocked(PLUGIN_NAME)


def _option(config: pytest.Config, name: str) -> Any:
    """A command-line value, else the ini value (paths in the ini are relative to the ini file)."""
    value = config.getoption("acme_" + name.replace("-", "_"), default=None)
    if value not in (None, False, []) or name not in _INI_VALUES:
        return value
    ini = config.getini("acme_" + name.replace("-", "_"))
    if not ini:
        return None
    if name in ("ca-bundle", "baseline", "profile") and config.inipath is not None:
        return str((config.inipath.parent / ini).resolve())
    return ini


def _enabled(config: pytest.Config) -> bool:
    return bool(config.getoption("acme") or _option(config, "directory") or _option(config, "profile")
                or config.getini("acme_conformance"))


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise pytest.UsageError(f"acme-conformance options: {message}")


def _cli_namespace(config: pytest.Config) -> argparse.Namespace:
    """The CLI's own parser fed with the --acme-* values: one definition of defaults and checks."""
    from conformance.commands.common import add_selection_arguments, add_target_arguments

    parser = _RaisingParser(prog="pytest --acme")
    add_target_arguments(parser)
    add_selection_arguments(parser)
    argv: list[str] = []
    for name, metavar, repeatable, _ in _TARGET_OPTIONS + _SELECTION_OPTIONS:
        value = _option(config, name)
        if metavar is None:
            argv += [f"--{name}"] if value else []
        elif repeatable:
            for item in value or []:
                argv.append(f"--{name}={item}")
        elif value is not None:
            argv.append(f"--{name}={value}")
    return parser.parse_args(argv)


# -- configuration ------------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    if not _enabled(config):
        return
    from conformance.commands.common import OptionError, selection_from_args, target_options_from_args

    args = _cli_namespace(config)
    try:
        selection = selection_from_args(args)
        # Validated now (a usage error before any test); the real private workdir is made at start.
        options = target_options_from_args(args, Path(tempfile.gettempdir()))
    except OptionError as exc:
        raise pytest.UsageError(f"acme-conformance: {exc}") from exc
    timeout = config.getoption("acme_timeout")
    if timeout is not None and timeout <= 0:
        raise pytest.UsageError("--acme-timeout must be a positive number of seconds")
    specs = all_checks()
    try:
        policy, baseline_warnings = load_policy(_option(config, "baseline"), _option(config, "fail-on") or "fail",
                                                known_ids())
    except (BaselineError, ValueError) as exc:
        raise pytest.UsageError(f"acme-conformance: {exc}") from exc
    for message in baseline_warnings if not hasattr(config, "workerinput") else []:  # once, not per xdist worker
        config.issue_config_time_warning(AcmeConformanceWarning(message), stacklevel=2)
    _register_markers(config, specs)
    state = AcmeRun(config, selection, options, policy, timeout)
    config.stash[_STATE] = state
    config.pluginmanager.register(state, "acme-conformance-run")


_STATE = pytest.StashKey["AcmeRun"]()


def _marker(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def level_marker(level: Level) -> str:
    return "descriptive" if level is Level.DESCRIPTIVE else _marker(level.value)


def section_markers(section: str) -> list[str]:
    """"RFC 8555 §7.1.1" -> rfc8555, rfc8555_s7, rfc8555_s7_1, rfc8555_s7_1_1."""
    match = re.match(r"\s*RFC\s*(\d+)\s*§\s*([\d.]*\d)", section, re.IGNORECASE)
    if match is None:
        return [_marker(section)] if _marker(section) else []
    rfc, parts = f"rfc{match.group(1)}", match.group(2).split(".")
    return [rfc] + [f"{rfc}_s" + "_".join(parts[:n]) for n in range(1, len(parts) + 1)]


def markers_for(spec: CheckSpec) -> list[str]:
    names = ["acme", level_marker(spec.level), f"grade_{spec.level.failure_verdict.value.lower()}",
             f"area_{_marker(spec.area)}"]
    names += [f"tag_{_marker(tag)}" for tag in sorted(spec.tags)]
    return names + section_markers(spec.section)


def _register_markers(config: pytest.Config, specs: list[CheckSpec]) -> None:
    lines = {"acme": "an ACME conformance check (acme-conformance)"}
    for level in Level:
        lines[level_marker(level)] = f"ACME check of requirement level {level.value}"
    for grade in ("fail", "warn", "info"):
        lines[f"grade_{grade}"] = f"ACME check whose deviation is graded {grade.upper()}"
    for tag in sorted(KNOWN_TAGS):
        lines[f"tag_{_marker(tag)}"] = f"ACME check tagged {tag}"
    for spec in specs:
        lines.setdefault(f"area_{_marker(spec.area)}", f"ACME checks of area {spec.area}")
        for name in section_markers(spec.section):
            lines.setdefault(name, f"ACME checks of {spec.section.split('§')[0].strip()} (section prefix)")
    for name, text in lines.items():
        config.addinivalue_line("markers", f"{name}: {text}")


# -- collection and items -----------------------------------------------------------------------------


class AcmeSuite(pytest.Collector):
    """The parent of the check items (node id ``acme``), so items are ``acme::<check id>``."""

    def collect(self) -> list[pytest.Item]:
        state = self.config.stash[_STATE]
        specs = state.selection.apply(all_checks())
        # Exclusive checks last, as the CLI runner does; the order is deterministic (xdist needs that).
        specs.sort(key=lambda s: ("exclusive" in s.tags, s.id))
        return [CheckItem.from_parent(self, name=spec.id, spec=spec) for spec in specs]


class CheckItem(pytest.Item):
    def __init__(self, *, spec: CheckSpec, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        for name in markers_for(spec):
            self.add_marker(name)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        # Not a suffix of the node id: pytest would otherwise show the id's dots as "::".
        domain = f"{self.spec.id} ({self.spec.section}, {self.spec.level.value})"
        try:
            source = inspect.getsourcefile(self.spec.func)
            line = inspect.getsourcelines(self.spec.func)[1]
        except (OSError, TypeError):
            return self.path, None, domain
        return (Path(source) if source else self.path), line - 1, domain

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        result = state.execute(self.spec)
        judgement = state.policy.judge(self.spec.id, result.verdict)
        self.user_properties += [("acme_verdict", result.verdict.value),
                                 ("acme_disposition", judgement.disposition.value),
                                 ("acme_message", result.message)]
        if judgement.stale:
            self.user_properties.append(("acme_stale", judgement.stale_message()))
        _conclude(result, judgement)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, _CheckProblem):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)


def _conclude(result: CheckResult, judgement: Judgement) -> None:
    """Turn a judged result into the item's outcome (see the module docstring for the mapping)."""
    disposition = judgement.disposition
    if disposition is Disposition.EXPECTED:
        assert judgement.entry is not None
        pytest.xfail(f"{result.verdict.value} expected by the baseline ({judgement.entry.source}): "
                     f"{judgement.entry.reason}")
    if judgement.stale:
        text = judgement.stale_message()
        if disposition in (Disposition.NEW, Disposition.COULD_NOT_TEST):
            text += "\n\n" + describe_result(result)
        raise _CheckProblem(text)
    if disposition is Disposition.NEW:
        raise _CheckProblem(describe_result(result))
    if disposition is Disposition.COULD_NOT_TEST:
        raise _CouldNotTest(describe_result(result))
    if disposition is Disposition.SKIPPED:
        pytest.skip(f"SKIP: {result.message}")
    if disposition is Disposition.NOTED:
        warnings.warn(AcmeConformanceWarning(f"{result.spec.id}: WARN ({result.spec.level.value}) "
                                             f"{result.message}; --acme-fail-on warn makes this fail"),
                      stacklevel=1)


def describe_result(result: CheckResult) -> str:
    spec = result.spec
    label = "ERROR (could not test)" if result.verdict is Verdict.ERROR else result.verdict.value
    lines = [f"{label} {spec.id} ({spec.section}, {spec.level.value}; {', '.join(spec.requirements)})",
             f"  {spec.title}", f"  RFC: {spec.sentence}", f"  {result.message}"]
    if result.expected is not None:
        lines.append(f"  expected: {result.expected}")
    if result.actual is not None:
        lines.append(f"  actual:   {result.actual}")
    lines += [f"  note: {note}" for note in result.notes]
    if result.exchanges:
        last = result.exchanges[-1]
        status = last.status if last.status is not None else last.error
        lines.append(f"  evidence: {len(result.exchanges)} exchange(s); last: {last.method} {last.url} -> {status}")
    lines.append(f"  reproduce: acme-conformance run --select {spec.id}")
    return "\n".join(lines)


# -- the run: target lifecycle, execution, summary ------------------------------------------------


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm(stack: ExitStack) -> None:
    """SIGTERM (a CI job cancelled or timed out) ends the session like Ctrl-C, so the embedded server
    and the responders are stopped instead of outliving the killed process. Only where nobody else
    handles SIGTERM, and only while the target runs."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _interrupt)
        stack.callback(signal.signal, signal.SIGTERM, signal.SIG_DFL)


class AcmeRun:
    """Per-process state: the lazily started harness and the verdicts seen (for the summary)."""

    def __init__(self, config: pytest.Config, selection: Selection, options: Any, policy: FailPolicy,
                 timeout: float | None) -> None:
        self.config = config
        self.selection = selection
        self.options = options
        self.policy = policy
        self.timeout = timeout
        self._stack: ExitStack | None = None
        self._run: Any = None  # RunContext once started
        self._error: str | None = None  # why the target could not be started (then every check: ERROR)
        self._writer: Any = None
        self._record: RunRecord | None = None
        self._report_dir: Path | None = None
        self._secrets: list[bytes] = []
        self.results: list[CheckResult] = []
        self.seen: dict[str, dict[str, str]] = {}  # nodeid -> our user properties (also from xdist workers)

    # hooks ---------------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)  # before -k/-m deselection, which then sees our items
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        # Through the session's own collection step, so collect reports (counts, errors) are as usual.
        suite = AcmeSuite.from_parent(session, name=COLLECTOR_NAME, nodeid=COLLECTOR_NAME)
        items.extend(session.genitems(suite))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = {str(k): str(v) for k, v in report.user_properties}
        if report.when == "call" and "acme_verdict" in properties:
            self.seen[report.nodeid] = properties

    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        properties = dict(report.user_properties)
        if (report.when == "call" and report.failed and "acme_stale" not in properties
                and properties.get("acme_disposition") == Disposition.COULD_NOT_TEST.value):
            return "error", "E", ("ERROR (could not test)", {"red": True})
        return None

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.close()

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        self.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.seen:
            return
        verdicts = [(nodeid.rsplit("::", 1)[-1], Verdict(p["acme_verdict"])) for nodeid, p in sorted(self.seen.items())]
        counts = Counter(v.value for _, v in verdicts)
        terminalreporter.write_sep("=", "acme-conformance")
        terminalreporter.write_line(f"{len(verdicts)} checks: "
                                    + " ".join(f"{v.value}={counts.get(v.value, 0)}" for v in Verdict))
        outcome = self.policy.evaluate(verdicts)
        for line in outcome.summary_lines():
            terminalreporter.write_line(line)
        if self.policy.baseline is not None:
            status = "no new failures, no stale entries" if not outcome.failed else "the baseline does not match"
            terminalreporter.write_line(f"baseline: {len(self.policy.baseline)} entries; {status}")

    # execution -------------------------------------------------------------------------------------

    def execute(self, spec: CheckSpec) -> CheckResult:
        from conformance.runner import Runner

        run = self._start()
        if run is None:
            return CheckResult(spec=spec, verdict=Verdict.ERROR, message=f"could not test: {self._error}",
                               started=time.time(), duration=0.0)
        writer = self._writer

        def on_start(started: CheckSpec) -> None:
            if writer is not None:
                writer.check_started(started.describe())

        runner = Runner(run, workers=1, timeout=self.timeout, on_start=on_start,
                        on_result=writer.verdict if writer is not None else None)
        result = runner.run_checks([spec])[0]
        self.results.append(result)
        return result

    def _start(self) -> Any:
        """The RunContext, starting the harness on first use; None when it cannot be started."""
        if self._run is not None or self._error is not None:
            return self._run
        from conformance.context import RunContext
        from conformance.harness import open_harness
        from conformance.targets.base import TargetError

        stack = ExitStack()
        self._stack = stack
        _stop_on_sigterm(stack)
        workdir = Path(tempfile.mkdtemp(prefix="acme-conformance-pytest-"))
        # Server keys and configs stay out of any report folder.
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        logs: list[Path] = []
        # Registered before the harness, so it runs once the server has stopped and its log is complete.
        stack.callback(self._keep_log, logs)
        try:
            harness = stack.enter_context(open_harness(dataclasses.replace(self.options, workdir=workdir)))
        except TargetError as exc:
            self._error = f"target error: {exc}"
            return None
        if harness.server_log is not None:
            logs.append(harness.server_log)
        if harness.eab is not None:
            self._secrets.append(harness.eab[1])
        self._open_report(harness)
        run = RunContext(harness.target, harness.backend, harness.run_options(),
                         on_exchange=self._writer.exchange if self._writer is not None else None,
                         management=harness.management)
        stack.callback(run.close)
        try:
            directory = run.directory()
        except CheckOutcome as exc:
            self._error = f"the directory {harness.target.directory_url} did not answer: {exc.message}"
            directory = None
        if self._record is not None:
            from conformance.commands.run import _target_record

            self._record.target = _target_record(harness.target, directory)
            if self._error is not None:
                self._record.harness_error = self._error
            self._writer.run_started(self._record)
        if self._error is not None:
            return None
        self._run = run
        return run

    def _open_report(self, harness: Any) -> None:
        base = self.config.getoption("acme_report_dir")
        if not base:
            return
        from conformance.events import EVENTS_FILE, EventWriter

        folder = Path(base)
        worker = getattr(self.config, "workerinput", None)
        if worker is not None:
            folder = folder / str(worker["workerid"])
        if folder.exists() and any(folder.iterdir()):
            self._error = f"--acme-report-dir {folder} exists and is not empty; choose a new folder"
            return
        folder.mkdir(parents=True, exist_ok=True)
        self._report_dir = folder
        self._writer = EventWriter(folder / EVENTS_FILE, secrets=self._secrets)
        self._record = RunRecord(target={}, started=time.time(), selection=self._selection_record())

    def _keep_log(self, logs: list[Path]) -> None:
        from conformance.commands.run import _keep_server_log

        if self._report_dir is not None:
            for log in logs:
                _keep_server_log(log, self._report_dir)

    def _selection_record(self) -> dict[str, Any]:
        s = self.selection
        return {"include": s.include, "exclude": s.exclude, "sections": s.sections, "tags": s.tags,
                "exclude_tags": s.exclude_tags, "levels": s.levels, "workers": 1, "timeout": self.timeout,
                "runner": "pytest"}

    def close(self) -> None:
        stack, self._stack = self._stack, None
        if stack is None:
            return
        try:
            stack.close()  # run context, server and responders, the server log copy, the workdir
        finally:
            self._run = None
            self._finish_report()

    def _finish_report(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None or self._record is None or self._report_dir is None:
            return
        from conformance.reports import render_all

        self._record.ended = time.time()
        writer.run_finished(self._record, verdict_counts(self.results))
        writer.close()
        try:
            render_all(self._report_dir, secrets=self._secrets)
        except Exception as exc:  # a broken renderer must not turn the verdicts into a crash
            warnings.warn(AcmeConformanceWarning(f"could not render the reports in {self._report_dir}: {exc}"),
                          stacklevel=1)
