"""Fuzz results into the run's event stream, so every renderer works on a fuzz run folder.

Each invariant becomes one check: ``check-started``, the shrunk sequence's ``exchange`` events
(owner ``check:fuzz.<invariant>``) and a ``verdict``. A finding is also saved as
``findings/<check id>.json`` with everything ``acme-conformance replay`` needs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from conformance.context import RunContext
from conformance.events import EventWriter
from conformance.fuzz.explore import Explorer, Finding
from conformance.fuzz.invariants import INVARIANTS, Violation
from conformance.model import Verdict
from conformance.results import CheckResult

FINDINGS_DIR = "findings"


def _steps_text(steps: list[dict[str, object]]) -> str:
    return "steps: " + "; ".join(json.dumps(step, separators=(",", ":")) for step in steps)


class FuzzReport:
    def __init__(self, writer: EventWriter, run_dir: Path, run: RunContext) -> None:
        self.writer = writer
        self.run_dir = run_dir
        self.run = run
        self.results: list[CheckResult] = []
        self.paths: dict[str, Path] = {}

    def finding(self, finding: Finding) -> CheckResult:
        folder = self.run_dir / FINDINGS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{finding.check_id}.json"
        path.write_text(json.dumps(finding.to_json(self.run), indent=2) + "\n", encoding="utf-8")
        self.paths[finding.check_id] = path
        violation = finding.violation
        message = (f"{violation.message} — shrunk to {len(finding.steps)} steps, {len(finding.exchanges)} requests; "
                   f"replay: acme-conformance replay {path}")
        notes = [_steps_text(finding.steps)] + ([finding.note] if finding.note else [])
        if finding.seed is not None:
            notes.append(f"hypothesis seed of the batch that found it: {finding.seed}")
        return self._emit(violation, message, finding.exchanges, notes)

    def finish(self, explorer: Explorer) -> None:
        for invariant in INVARIANTS.values():
            if invariant.id in explorer.findings:
                continue
            observation = explorer.observed.get(invariant.id)
            if observation is not None:
                message = f"{observation.violation.message} — seen while excluded from shrinking (not shrunk)"
                self._emit(observation.violation, message, [], [_steps_text(observation.steps)])
                continue
            count = explorer.exercised.get(invariant.id, 0)
            spec = invariant.spec()
            self.writer.check_started(spec.describe())
            if count:
                result = CheckResult(spec, Verdict.PASS, f"held in {count} judgements over {explorer.examples} "
                                     f"examples ({explorer.requests} requests)", time.time(), 0.0)
            else:
                result = CheckResult(spec, Verdict.SKIP, "never exercised in this run (more examples or a longer "
                                     "--duration reach it)", time.time(), 0.0)
            self.writer.verdict(result)
            self.results.append(result)

    def _emit(self, violation: Violation, message: str, exchanges: list, notes: list[str]) -> CheckResult:  # type: ignore[type-arg]
        spec = INVARIANTS[violation.invariant].spec(violation.requirements or None, violation.level)
        self.writer.check_started(spec.describe())
        owner = f"check:{spec.id}"
        for exchange in exchanges:
            self.writer.exchange(owner, exchange)
        result = CheckResult(spec, spec.level.failure_verdict, message, time.time(), 0.0,
                             expected=violation.expected, actual=violation.actual, exchanges=list(exchanges),
                             notes=notes)
        self.writer.verdict(result)
        self.results.append(result)
        return result
