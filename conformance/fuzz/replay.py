"""Re-run a saved finding's step sequence against a target: does the deviation still happen?"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.context import RunContext
from conformance.fuzz.explore import FINDING_SCHEMA
from conformance.fuzz.invariants import INVARIANTS, Violation
from conformance.fuzz.world import World
from conformance.model import CouldNotTest
from conformance.recorder import Exchange, recording


class FindingError(ValueError):
    """The file is not a finding this version can replay."""


@dataclass
class ReplayResult:
    check: str
    still_fails: bool
    violation: Violation | None = None
    steps_run: int = 0
    error: str | None = None  # could not replay (target unreachable, set-up refused)
    exchanges: list[Exchange] = field(default_factory=list)


def load_finding(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FindingError(f"cannot read the finding {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != FINDING_SCHEMA or not isinstance(data.get("steps"), list):
        raise FindingError(f"{path} is not an acme-conformance fuzz finding (schema {FINDING_SCHEMA})")
    if data.get("check") not in INVARIANTS:
        raise FindingError(f"{path} names an unknown invariant {data.get('check')!r}")
    return data


def replay(finding: dict[str, Any], run: RunContext, poll_budget: float = 10.0) -> ReplayResult:
    """Run the steps; only the finding's own invariant is judged (the others are muted, not ignored)."""
    check = str(finding["check"])
    explore = finding.get("explore") or {}
    world = World(run, muted=frozenset(INVARIANTS) - {check}, poll_budget=poll_budget,
                  settled_challenges=bool(explore.get("settled_challenges", True)))
    result = ReplayResult(check=check, still_fails=False)
    with recording(world.recorder):
        for step in finding["steps"]:
            try:
                world.execute(step)
            except Violation as violation:
                result.still_fails, result.violation = True, violation
                break
            except CouldNotTest as exc:
                result.error = exc.message
                break
            finally:
                result.steps_run += 1
    result.exchanges = list(world.recorder.exchanges)
    return result
