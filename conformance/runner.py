"""Runs checks: each in its own recording context, concurrently when asked, never letting one
check's failure, crash or hang stop the run.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable, Sequence

from conformance.context import CheckContext, RunContext
from conformance.model import CheckOutcome, CheckSpec, Deviation, Verdict
from conformance.recorder import Recorder, recording
from conformance.results import CheckResult

# How long past its own budget a check may run before the runner gives up waiting for it
# (its thread is a daemon and is abandoned; the verdict is ERROR).
_ABANDON_GRACE = 15.0

ResultListener = Callable[[CheckResult], None]
StartListener = Callable[[CheckSpec], None]


def execute_check(run: RunContext, spec: CheckSpec, timeout: float | None = None) -> CheckResult:
    """Run one check and turn whatever happens into a verdict."""
    recorder = Recorder(f"check:{spec.id}", run.on_exchange)
    budget = timeout if timeout is not None else spec.timeout
    started, clock = time.time(), time.perf_counter()
    ctx = CheckContext(run, spec, recorder, deadline=time.monotonic() + budget)
    verdict, message = Verdict.PASS, "the requirement holds"
    expected = actual = trace = None
    try:
        with recording(recorder):
            spec.func(ctx)
    except Deviation as outcome:
        verdict, message, expected, actual = spec.level.failure_verdict, outcome.message, outcome.expected, outcome.actual
    except CheckOutcome as outcome:
        verdict, message, expected, actual = outcome.verdict, outcome.message, outcome.expected, outcome.actual
    except Exception as exc:  # a bug of ours, or a server answer we failed to handle
        verdict = Verdict.ERROR
        message = f"harness error: {type(exc).__name__}: {exc}"
        trace = traceback.format_exc()
    return CheckResult(
        spec=spec,
        verdict=verdict,
        message=message,
        started=started,
        duration=time.perf_counter() - clock,
        expected=expected,
        actual=actual,
        exchanges=list(recorder.exchanges),
        setup_exchanges=list(ctx.setup_exchanges),
        notes=list(ctx.notes),
        traceback=trace,
    )


def abandoned_result(spec: CheckSpec, started: float, waited: float) -> CheckResult:
    return CheckResult(
        spec=spec,
        verdict=Verdict.ERROR,
        message=f"could not test: the check did not finish within {waited:.0f} s and was abandoned",
        started=started,
        duration=waited,
    )


class Runner:
    """Runs a list of checks with ``workers`` threads; exclusive checks run alone, at the end."""

    def __init__(
        self,
        run: RunContext,
        *,
        workers: int = 1,
        timeout: float | None = None,
        on_start: StartListener | None = None,
        on_result: ResultListener | None = None,
    ) -> None:
        self.run = run
        self.workers = max(1, workers)
        self.timeout = timeout
        self.on_start = on_start
        self.on_result = on_result
        self.results: list[CheckResult] = []
        self.interrupted = False

    def run_checks(self, specs: Sequence[CheckSpec]) -> list[CheckResult]:
        """Run everything; KeyboardInterrupt stops the run and re-raises once results are safe."""
        concurrent = [s for s in specs if "exclusive" not in s.tags]
        exclusive = [s for s in specs if "exclusive" in s.tags]
        try:
            self._run_batch(concurrent, self.workers)
            self._run_batch(exclusive, 1)
        except KeyboardInterrupt:
            self.interrupted = True
            raise
        return self.results

    def _record(self, result: CheckResult) -> None:
        self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    def _run_batch(self, specs: Sequence[CheckSpec], workers: int) -> None:
        if not specs:
            return
        todo: queue.SimpleQueue[CheckSpec | None] = queue.SimpleQueue()
        for spec in specs:
            todo.put(spec)
        done: queue.SimpleQueue[CheckResult] = queue.SimpleQueue()
        running: dict[str, tuple[CheckSpec, float, float]] = {}  # id -> (spec, epoch start, monotonic start)
        lock = threading.Lock()
        stop = threading.Event()

        def worker() -> None:
            while not stop.is_set():
                spec = todo.get()
                if spec is None:
                    return
                with lock:
                    running[spec.id] = (spec, time.time(), time.monotonic())
                if self.on_start is not None:
                    self.on_start(spec)
                result = execute_check(self.run, spec, self.timeout)
                with lock:
                    abandoned = running.pop(spec.id, None) is None
                if not abandoned:
                    done.put(result)

        count = min(workers, len(specs))
        # Daemon threads, not an executor: a check stuck in a hostile server's socket must not keep
        # the process alive after Ctrl-C or after the runner abandoned it.
        threads = [threading.Thread(target=worker, name=f"check-worker-{n}", daemon=True) for n in range(count)]
        for _ in threads:
            todo.put(None)  # one stop marker per worker, consumed after the real work
        for thread in threads:
            thread.start()
        remaining = len(specs)
        try:
            while remaining:
                try:
                    result = done.get(timeout=0.2)
                except queue.Empty:
                    self._abandon_overdue(running, lock, done)
                    continue
                self._record(result)
                remaining -= 1
        finally:
            stop.set()

    def _abandon_overdue(
        self,
        running: dict[str, tuple[CheckSpec, float, float]],
        lock: threading.Lock,
        done: queue.SimpleQueue[CheckResult],
    ) -> None:
        now = time.monotonic()
        with lock:
            for check_id, (spec, epoch, mono) in list(running.items()):
                limit = (self.timeout if self.timeout is not None else spec.timeout) + _ABANDON_GRACE
                if now - mono > limit:
                    del running[check_id]
                    done.put(abandoned_result(spec, epoch, now - mono))
