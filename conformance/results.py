"""Results of a run: one :class:`CheckResult` per check, and the run record around them."""

from __future__ import annotations

import datetime
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from conformance.model import CheckSpec, Verdict
from conformance.recorder import Exchange

RESULTS_SCHEMA_VERSION = 1


def utc_iso(epoch: float) -> str:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(timespec="milliseconds")


@dataclass
class CheckResult:
    spec: CheckSpec
    verdict: Verdict
    message: str
    started: float
    duration: float
    expected: str | None = None
    actual: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    setup_exchanges: list[Exchange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # For ERROR verdicts caused by a bug of ours; kept in results.json, never printed to the console.
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.spec.describe(),
            "verdict": self.verdict.value,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "notes": list(self.notes),
            "started": utc_iso(self.started),
            "duration": round(self.duration, 6),
            "exchanges": [e.to_dict() for e in self.exchanges],
            "setup_exchanges": [e.id for e in self.setup_exchanges],
            "traceback": self.traceback,
        }


def verdict_counts(results: list[CheckResult]) -> dict[str, int]:
    counts = Counter(r.verdict.value for r in results)
    return {verdict.value: counts.get(verdict.value, 0) for verdict in Verdict}


@dataclass
class RunRecord:
    """Everything results.json holds besides the per-check results."""

    target: dict[str, Any]
    started: float
    selection: dict[str, Any]
    ended: float | None = None
    interrupted: bool = False
    harness_error: str | None = None
