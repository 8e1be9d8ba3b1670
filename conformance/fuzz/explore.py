"""Drive the state machine with hypothesis, keep the shrunk failures, and turn them into findings.

Hypothesis treats each invariant as a distinct bug (one exception class per invariant), shrinks
each to a minimal step sequence and re-runs the minimal one last; the explorer keeps the last
failing run per invariant, which is therefore the shrunk one. Once an invariant has a finding
it is muted and exploration goes on in a new batch, so one frequent deviation does not hide the
others. Only the current example's exchanges are held in memory (the World's recorder); a
finding keeps just its shrunk sequence.
"""

from __future__ import annotations

import contextlib
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import UnsatisfiedAssumption
from hypothesis.internal.conjecture import engine as _engine
from hypothesis.stateful import get_state_machine_test

from conformance.context import RunContext
from conformance.fuzz.invariants import INVARIANTS, SERVER_ANSWERS, Violation
from conformance.fuzz.machine import machine_for
from conformance.fuzz.world import Observation, World
from conformance.model import CouldNotTest
from conformance.recorder import Exchange, recording

FINDING_SCHEMA = 1
DEFAULT_STEPS = 20
_BATCH = 10  # examples per hypothesis run when exploring for a duration


@dataclass
class Finding:
    violation: Violation
    steps: list[dict[str, Any]]
    exchanges: list[Exchange]
    seed: int | None = None
    note: str | None = None
    settled_challenges: bool = True

    @property
    def check_id(self) -> str:
        return self.violation.invariant

    def to_json(self, run: RunContext) -> dict[str, Any]:
        return {
            "schema": FINDING_SCHEMA,
            "check": self.check_id,
            "violation": self.violation.to_dict(),
            "sentence": INVARIANTS[self.check_id].sentence,
            "section": INVARIANTS[self.check_id].section,
            "steps": self.steps,
            "seed": self.seed,
            "note": self.note,
            "target": {"name": run.target.name, "directory_url": run.target.directory_url},
            "options": {
                "base_domain": run.options.base_domain,
                "challenge_types": list(run.options.challenge_types),
                "ip_identifiers": run.options.ip_identifiers,
            },
            "explore": {"settled_challenges": self.settled_challenges},
            "hypothesis": hypothesis.__version__,
        }


_violation_classes: dict[str, type[Violation]] = {}


def _distinct(violation: Violation) -> Violation:
    """The same violation as an instance of a class of its own invariant, so hypothesis keeps them apart."""
    cls = _violation_classes.get(violation.invariant)
    if cls is None:
        name = "Violation_" + violation.invariant.replace(".", "_").replace("-", "_")
        cls = type(name, (Violation,), {"__module__": __name__})
        _violation_classes[violation.invariant] = cls
    distinct = cls(violation.invariant, violation.message, violation.expected, violation.actual,
                   violation.requirements, violation.level, violation.details)
    return distinct


@contextlib.contextmanager
def _shrink_budget(seconds: float) -> Iterator[None]:
    # Hypothesis shrinks for up to 5 minutes by default; protocol steps are slow compared with pure
    # functions, so the budget is ours to set. (A module constant of the engine: restored on exit.)
    previous = _engine.MAX_SHRINKING_SECONDS
    _engine.MAX_SHRINKING_SECONDS = int(seconds)
    try:
        yield
    finally:
        _engine.MAX_SHRINKING_SECONDS = previous


@dataclass
class Explorer:
    run: RunContext
    database_dir: Path | None = None
    seed: int | None = None
    max_examples: int | None = 50
    duration: float | None = None
    step_count: int = DEFAULT_STEPS
    shrink_seconds: float = 120.0
    poll_budget: float = 10.0
    muted: frozenset[str] = frozenset()
    settled_challenges: bool = True
    on_finding: Callable[[Finding], None] | None = None
    findings: dict[str, Finding] = field(default_factory=dict)
    observed: dict[str, Observation] = field(default_factory=dict)  # muted invariants seen broken (unshrunk)
    exercised: Counter[str] = field(default_factory=Counter)
    harness_errors: list[str] = field(default_factory=list)
    examples: int = 0
    requests: int = 0

    def __post_init__(self) -> None:
        self._failures: dict[str, Finding] = {}
        self._batch_failed = False
        self._batch_seed: int | None = None
        self._transport_errors = 0

    # -- called by the state machine ------------------------------------------------------------------

    def new_world(self) -> World:
        return World(self.run, muted=self.muted | frozenset(self.findings), poll_budget=self.poll_budget,
                     settled_challenges=self.settled_challenges)

    def execute(self, world: World, step: dict[str, Any]) -> None:
        try:
            with recording(world.recorder):
                world.execute(step)
        except Violation as violation:
            self._batch_failed = True
            finding = Finding(violation, [dict(s) for s in world.steps], list(world.recorder.exchanges),
                              self._batch_seed, settled_challenges=self.settled_challenges)
            if violation.invariant == SERVER_ANSWERS:
                # A server that stopped answering makes every later step "fail": shrinking against it would
                # produce nonsense, and exploring further would only time out. Keep it unshrunk and stop.
                finding.note = "not shrunk: the server stopped answering, the exploration ended here"
                self._failures[violation.invariant] = finding
                raise _Abort(f"the server stopped answering ({violation.actual}); see the "
                             f"{SERVER_ANSWERS} finding") from None
            self._failures[violation.invariant] = finding
            raise _distinct(violation) from None
        except CouldNotTest as exc:
            # The server or a responder could not be reached: not a finding, and not worth shrinking.
            self._transport_errors += 1
            if self._transport_errors > 20:
                raise _Abort(f"too many requests failed ({exc.message})") from exc
            raise UnsatisfiedAssumption() from exc

    def end_world(self, world: World) -> None:
        self.exercised.update(world.exercised)
        for invariant, observation in world.observed.items():
            if invariant not in self.findings:
                self.observed.setdefault(invariant, observation)
        self.requests += len(world.recorder.exchanges)
        if not self._batch_failed:
            self.examples += 1

    # -- the exploration loop -------------------------------------------------------------------------

    def explore(self) -> dict[str, Finding]:
        deadline = time.monotonic() + self.duration if self.duration is not None else None
        batch = 0
        with _shrink_budget(self.shrink_seconds):
            while True:
                if deadline is not None:
                    if time.monotonic() >= deadline:
                        break
                    size = _BATCH
                else:
                    size = (self.max_examples or 0) - self.examples
                    if size <= 0:
                        break
                self._batch_seed = None if self.seed is None else self.seed + batch
                found = self._run_batch(size)
                batch += 1
                if self.harness_errors:
                    break
                if not found and deadline is None:
                    break  # hypothesis ran its examples to the end without a new finding
        return self.findings

    def _settings(self, size: int) -> settings:
        database = DirectoryBasedExampleDatabase(str(self.database_dir)) if self.database_dir else None
        return settings(
            max_examples=max(1, size),
            stateful_step_count=self.step_count,
            deadline=None,
            database=database,
            suppress_health_check=list(HealthCheck),
            verbosity=Verbosity.quiet,
            report_multiple_bugs=True,
            phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
            print_blob=False,
        )

    def _run_batch(self, size: int) -> bool:
        self._failures = {}
        self._batch_failed = False
        test = get_state_machine_test(machine_for(self), settings=self._settings(size))
        if self._batch_seed is not None:
            # What hypothesis.seed() does, minus its switching the example database off: we want the seed
            # (reproducible runs) and the database (saved failures replayed first) together.
            test._hypothesis_internal_use_seed = self._batch_seed  # type: ignore[attr-defined]
        try:
            test()
        except _Abort as exc:
            self.harness_errors.append(str(exc))
        except BaseException as exc:  # noqa: BLE001 - hypothesis re-raises the failures (maybe grouped)
            if isinstance(exc, KeyboardInterrupt):
                raise
            unexpected = [e for e in _leaves(exc) if not isinstance(e, Violation)]
            if unexpected and not self._failures:
                self.harness_errors.append("".join(traceback.format_exception(unexpected[0])))
        new = False
        for invariant, finding in self._failures.items():
            if invariant in self.findings:
                continue
            self.findings[invariant] = finding
            new = True
            if self.on_finding is not None:
                self.on_finding(finding)
        return new


class _Abort(BaseException):  # noqa: N818 - not an error of the server: hypothesis must not shrink it
    """Stop exploring: the target stopped answering."""


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        leaves: list[BaseException] = []
        for inner in exc.exceptions:
            leaves.extend(_leaves(inner))
        return leaves
    return [exc]
