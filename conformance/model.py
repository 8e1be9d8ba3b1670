"""The check model: requirement levels, verdicts, check specifications and their outcomes.

A check is a small function that knows the requirement it judges. Its *level* is the BCP 14
keyword as the RFC writes it; the level decides how a broken expectation is graded
(MUST -> FAIL, SHOULD -> WARN, MAY -> INFO), following Autobahn's graded verdicts.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.context import CheckContext


class Verdict(enum.StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"  # a MUST-level requirement is broken
    WARN = "WARN"  # a SHOULD-level (or descriptive) requirement is broken
    INFO = "INFO"  # worth knowing, not required (MAY / OPTIONAL)
    SKIP = "SKIP"  # the server does not offer what the check needs
    ERROR = "ERROR"  # could not test: the harness or the target broke before a judgement


class Level(enum.StrEnum):
    MUST = "MUST"
    MUST_NOT = "MUST NOT"
    REQUIRED = "REQUIRED"
    SHALL = "SHALL"
    SHOULD = "SHOULD"
    SHOULD_NOT = "SHOULD NOT"
    RECOMMENDED = "RECOMMENDED"
    MAY = "MAY"
    OPTIONAL = "OPTIONAL"
    # The RFC states the behaviour without a keyword (e.g. "returns ... in a 201 response").
    DESCRIPTIVE = "descr."

    @property
    def failure_verdict(self) -> Verdict:
        """How a broken expectation at this level is graded."""
        if self in _FAIL_LEVELS:
            return Verdict.FAIL
        if self in _INFO_LEVELS:
            return Verdict.INFO
        return Verdict.WARN


_FAIL_LEVELS = frozenset({Level.MUST, Level.MUST_NOT, Level.REQUIRED, Level.SHALL})
_INFO_LEVELS = frozenset({Level.MAY, Level.OPTIONAL})

# Tags say what a check needs; selection and skipping use them.
KNOWN_TAGS: frozenset[str] = frozenset(
    {
        "basic",  # plain HTTPS to the server
        "account",  # needs an account
        "two-accounts",  # needs a second, independent account
        "validation",  # needs a challenge responder the server reaches
        "issuance",  # needs a finished issuance
        "destructive",  # deactivates or revokes what it uses (always on throw-away objects)
        "eab",  # needs external account binding credentials
        "policy",  # outcome depends on server policy
        "slow",  # waits for something (expiry, many requests)
        "exclusive",  # needs server state no other check may change concurrently
        "history",  # recognises pre-RFC protocol remnants
    }
)


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its identity, the requirement it judges, and the function that judges it."""

    id: str  # stable, semantic, never positional: e.g. "nonce.get-returns-204"
    title: str
    section: str  # RFC section as written, e.g. "RFC 8555 §7.2"
    level: Level
    requirements: tuple[str, ...]  # catalogue ids (shared/requirements.md), e.g. ("NONCE-3",)
    sentence: str  # the normative sentence, quoted from the spec
    tags: frozenset[str]
    func: Callable[[CheckContext], None] = field(compare=False, repr=False)
    timeout: float = 30.0
    module: str = ""

    @property
    def area(self) -> str:
        """The id's first component ("nonce" for "nonce.get-returns-204"): the report grouping."""
        return self.id.split(".", 1)[0]

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "section": self.section,
            "level": self.level.value,
            "requirements": list(self.requirements),
            "sentence": self.sentence,
            "tags": sorted(self.tags),
            "area": self.area,
        }


# -- outcomes a check raises ------------------------------------------------------------------


class CheckOutcome(Exception):
    """Base of the exceptions a check raises to end with a verdict other than PASS."""

    verdict: Verdict = Verdict.ERROR

    def __init__(self, message: str, *, expected: str | None = None, actual: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.actual = actual


class Deviation(CheckOutcome):
    """The server broke the expectation; graded by the check's level (FAIL, WARN or INFO)."""


class Warned(CheckOutcome):
    """A softer finding than the check's level: e.g. a MUST check that sees a SHOULD broken."""

    verdict = Verdict.WARN


class Informational(CheckOutcome):
    """Not a deviation: something worth recording (the RFC leaves the choice to the server)."""

    verdict = Verdict.INFO


class Skipped(CheckOutcome):
    """The server does not offer what the check needs (no newAuthz, no keyChange, ...)."""

    verdict = Verdict.SKIP


class CouldNotTest(CheckOutcome):
    """A prerequisite failed (setup request refused, responder unusable, ...): never a FAIL."""

    verdict = Verdict.ERROR


class CheckTimeout(CouldNotTest):
    """The check ran out of its time budget."""
