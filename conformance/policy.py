"""The fail policy: which verdicts fail a run, given ``--fail-on`` and a baseline.

One module for the CLI (exit code) and the pytest plugin (item outcomes), so both judge a run the
same way:

* an unexpected FAIL fails the run; so does an unexpected WARN with ``fail_on="warn"`` (with the
  default ``fail_on="fail"`` it is only noted);
* an unexpected ERROR ("could not test") fails the run too: a regression gate that stays green while
  nothing could be tested would hide exactly the regressions it exists for. It is reported apart from
  failures (never as a deviation of the server);
* a result whose verdict equals its baseline entry is *expected* and never fails the run;
* an entry whose check ran and gave another verdict is *stale* and fails the run: the deviation was
  fixed (or changed), and the baseline must say so. The result itself is then judged as if it had
  no entry. An ERROR does not make an entry stale (nothing was judged); entries for checks that did
  not run (not selected) are neither expected nor stale.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from conformance.baseline import Baseline, BaselineEntry
from conformance.model import Verdict

FAIL_ON_CHOICES = ("fail", "warn")


class Disposition(enum.StrEnum):
    PASSED = "passed"  # PASS, INFO
    SKIPPED = "skipped"
    NOTED = "noted"  # an unexpected WARN with fail_on="fail": passes, but is reported
    EXPECTED = "expected"  # the verdict its baseline entry names
    NEW = "new"  # an unexpected FAIL (or WARN with fail_on="warn"): fails the run
    COULD_NOT_TEST = "could-not-test"  # an unexpected ERROR: fails the run


@dataclass(frozen=True)
class Judgement:
    check_id: str
    verdict: Verdict
    disposition: Disposition
    entry: BaselineEntry | None = None  # the baseline entry for this check, if any
    stale: bool = False  # the entry exists and names another verdict

    @property
    def blocking(self) -> bool:
        return self.stale or self.disposition in (Disposition.NEW, Disposition.COULD_NOT_TEST)

    def stale_message(self) -> str:
        assert self.entry is not None
        return (f"stale baseline entry for {self.check_id} ({self.entry.source}): it expects "
                f"{self.entry.verdict.value}, but the check now gives {self.verdict.value}; update or remove the entry")


@dataclass
class FailPolicy:
    fail_on: str = "fail"
    baseline: Baseline | None = None

    def __post_init__(self) -> None:
        if self.fail_on not in FAIL_ON_CHOICES:
            raise ValueError(f"fail-on must be one of {', '.join(FAIL_ON_CHOICES)}, not {self.fail_on!r}")

    @property
    def failing_verdicts(self) -> frozenset[Verdict]:
        """Verdicts that fail the run as deviations when no baseline entry expects them."""
        if self.fail_on == "warn":
            return frozenset({Verdict.FAIL, Verdict.WARN})
        return frozenset({Verdict.FAIL})

    def judge(self, check_id: str, verdict: Verdict) -> Judgement:
        entry = self.baseline.get(check_id) if self.baseline is not None else None
        if entry is not None and entry.verdict is verdict:
            return Judgement(check_id, verdict, Disposition.EXPECTED, entry)
        # An ERROR proves nothing about the entry (the check could not judge), so it is not stale.
        stale = entry is not None and verdict is not Verdict.ERROR
        if verdict in self.failing_verdicts:
            disposition = Disposition.NEW
        elif verdict is Verdict.ERROR:
            disposition = Disposition.COULD_NOT_TEST
        elif verdict is Verdict.WARN:
            disposition = Disposition.NOTED
        elif verdict is Verdict.SKIP:
            disposition = Disposition.SKIPPED
        else:
            disposition = Disposition.PASSED
        return Judgement(check_id, verdict, disposition, entry, stale)

    def evaluate(self, results: Iterable[tuple[str, Verdict]]) -> PolicyOutcome:
        return PolicyOutcome([self.judge(check_id, verdict) for check_id, verdict in results])


@dataclass
class PolicyOutcome:
    judgements: list[Judgement] = field(default_factory=list)

    def _with(self, disposition: Disposition) -> list[Judgement]:
        return [j for j in self.judgements if j.disposition is disposition]

    @property
    def expected(self) -> list[Judgement]:
        return self._with(Disposition.EXPECTED)

    @property
    def new(self) -> list[Judgement]:
        return self._with(Disposition.NEW)

    @property
    def could_not_test(self) -> list[Judgement]:
        return self._with(Disposition.COULD_NOT_TEST)

    @property
    def noted(self) -> list[Judgement]:
        return self._with(Disposition.NOTED)

    @property
    def stale(self) -> list[Judgement]:
        return [j for j in self.judgements if j.stale]

    @property
    def failed(self) -> bool:
        """The run is a regression: a new deviation or a stale baseline entry."""
        return bool(self.new or self.stale)

    @property
    def passed(self) -> bool:
        return not any(j.blocking for j in self.judgements)

    def summary_lines(self) -> list[str]:
        """Plain-text account of the policy's view of the run (the CLI and the plugin print it)."""
        lines: list[str] = []
        groups = [
            ("expected (in the baseline)", self.expected, lambda j: f"{j.check_id} {j.verdict.value}"),
            ("new failures", self.new, lambda j: f"{j.check_id} {j.verdict.value}"),
            ("could not test", self.could_not_test, lambda j: j.check_id),
            ("stale baseline entries", self.stale, Judgement.stale_message),
            ("warnings (not failing the run; --fail-on warn makes them fail)", self.noted, lambda j: j.check_id),
        ]
        for title, items, describe in groups:
            if items:
                lines.append(f"{title}: {len(items)}")
                lines.extend(f"  {describe(j)}" for j in sorted(items, key=lambda j: j.check_id))
        return lines


def known_ids() -> set[str]:
    """Ids a baseline entry may name: the registered checks and the fuzzer's invariants (fuzz.*)."""
    from conformance.registry import all_checks

    ids = {spec.id for spec in all_checks()}
    try:
        from conformance.fuzz.invariants import INVARIANTS
    except ImportError:  # the fuzzer is optional for baselines: its entries then only warn
        return ids
    return ids | set(INVARIANTS)


def load_policy(baseline_path: str | None, fail_on: str, known_ids: Iterable[str]) -> tuple[FailPolicy, list[str]]:
    """The policy for a run, and warnings about the baseline (raises BaselineError if it is unusable).

    An entry naming no registered check is a warning, not an error: it can never hide a failure (the
    real check, if misspelt, still fails as new), and a baseline shared across tool versions must not
    break every pipeline when a check is renamed or removed.
    """
    from conformance.baseline import load_baseline

    baseline = load_baseline(baseline_path) if baseline_path else None
    warnings = []
    if baseline is not None:
        warnings = [f"baseline entry {entry.source} names no known check {entry.check!r}: ignored (a typo, or a "
                    "check renamed or removed)" for entry in baseline.unknown_checks(known_ids)]
    return FailPolicy(fail_on=fail_on, baseline=baseline), warnings
