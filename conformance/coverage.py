"""Requirement coverage accounting: which catalogue ids are judged by which checks, and why the
others are not. It makes a certification claim auditable: every id is accounted for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from conformance.model import CheckSpec
from conformance.registry import all_checks, not_judged_reasons


@dataclass(frozen=True)
class Requirement:
    id: str
    group: str
    section: str
    level: str
    tags: tuple[str, ...]
    send: str
    expect: str


def load_catalogue() -> list[Requirement]:
    """The catalogue shipped as package data (built from shared/requirements.md)."""
    text = resources.files("conformance").joinpath("data/requirements.json").read_text(encoding="utf-8")
    return [
        Requirement(
            id=item["id"], group=item["group"], section=item["section"], level=item["level"],
            tags=tuple(item["tags"]), send=item["send"], expect=item["expect"],
        )
        for item in json.loads(text)["requirements"]
    ]


@dataclass(frozen=True)
class CoverageEntry:
    requirement: Requirement
    checks: tuple[str, ...]
    reason: str | None  # why it is not judged, when no check judges it

    @property
    def status(self) -> str:
        if self.checks:
            return "judged"
        return "not-judged" if self.reason else "unaccounted"


@dataclass(frozen=True)
class Coverage:
    entries: tuple[CoverageEntry, ...]
    unknown_ids: tuple[str, ...]  # ids named by checks that the catalogue does not have

    @property
    def judged(self) -> int:
        return sum(1 for e in self.entries if e.checks)

    @property
    def total(self) -> int:
        return len(self.entries)

    @property
    def percent(self) -> float:
        return 100.0 * self.judged / self.total if self.total else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "judged": self.judged,
            "percent": round(self.percent, 1),
            "unaccounted": [e.requirement.id for e in self.entries if e.status == "unaccounted"],
            "unknown_ids": list(self.unknown_ids),
            "requirements": [
                {"id": e.requirement.id, "section": e.requirement.section, "level": e.requirement.level,
                 "status": e.status, "checks": list(e.checks), "reason": e.reason}
                for e in self.entries
            ],
        }


def compute_coverage(specs: list[CheckSpec] | None = None) -> Coverage:
    specs = all_checks() if specs is None else specs
    catalogue = load_catalogue()
    known = {r.id for r in catalogue}
    by_requirement: dict[str, list[str]] = {}
    unknown: set[str] = set()
    for spec in specs:
        for requirement_id in spec.requirements:
            by_requirement.setdefault(requirement_id, []).append(spec.id)
            if requirement_id not in known:
                unknown.add(requirement_id)
    reasons = not_judged_reasons()
    entries = tuple(
        CoverageEntry(r, tuple(sorted(by_requirement.get(r.id, []))), None if r.id in by_requirement else reasons.get(r.id))
        for r in catalogue
    )
    return Coverage(entries=entries, unknown_ids=tuple(sorted(unknown)))
