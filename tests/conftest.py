"""Shared fixtures: one real Pebble (with our responders) for the whole test session, and a
helper that runs a single check against it, optionally through a fault-injection layer.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.context import RunContext, RunOptions
from conformance.harness import Harness, TargetOptions, open_harness
from conformance.keypool import KeyPool
from conformance.model import Verdict
from conformance.recorder import ResponseHook
from conformance.registry import get_check
from conformance.results import CheckResult
from conformance.runner import execute_check

needs_pebble = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble binary not installed")


@pytest.fixture(scope="session")
def keypool() -> Iterator[KeyPool]:
    pool = KeyPool()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    if shutil.which("pebble") is None:
        pytest.skip("pebble binary not installed")
    workdir: Path = tmp_path_factory.mktemp("harness")
    with open_harness(TargetOptions(workdir=workdir)) as started:
        yield started


class CheckRunner:
    """Runs one check by id against the session's Pebble, with an optional response fault."""

    def __init__(self, harness: Harness, keypool: KeyPool) -> None:
        self.harness = harness
        self.keypool = keypool

    def context(self, hook: ResponseHook | None = None, **options: object) -> RunContext:
        return RunContext(
            self.harness.target,
            self.harness.backend,
            RunOptions(response_hook=hook, **options),  # type: ignore[arg-type]
            management=self.harness.management,
            keys=self.keypool,
        )

    def __call__(self, check_id: str, hook: ResponseHook | None = None, **options: object) -> CheckResult:
        run = self.context(hook, **options)
        try:
            return execute_check(run, get_check(check_id))
        finally:
            run.close()


@pytest.fixture(scope="session")
def run_check(harness: Harness, keypool: KeyPool) -> CheckRunner:
    return CheckRunner(harness, keypool)


def assert_verdict(result: CheckResult, verdict: Verdict, contains: str | None = None) -> None:
    """Assert a verdict, showing the whole finding when it differs (that is the debugging info)."""
    detail = f"{result.spec.id}: {result.verdict.value} — {result.message} (expected {result.expected!r}, actual {result.actual!r})"
    if result.traceback:
        detail += "\n" + result.traceback
    assert result.verdict is verdict, detail
    if contains is not None:
        text = " ".join(str(x) for x in (result.message, result.expected, result.actual))
        assert contains in text, detail
