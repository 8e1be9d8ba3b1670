"""Fail/pass proofs for the http-01 checks (scenarios/s08_3_http01.py).

The validation happens between Pebble and our responder, out of the hooks' reach; the hooks
change what the check is told (the authorization's outcome), which is what it judges."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults_challenges import flip, on

from conformance.model import Verdict

PASSING = ["http01.validation-request", "http01.wrong-answer-fails", "http01.redirect-followed",
           "http01.content-type-irrelevant"]


@pytest.mark.parametrize("check_id", PASSING)
def test_passes_on_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


@pytest.mark.parametrize(
    ("check_id", "hook", "verdict"),
    [
        ("http01.wrong-answer-fails", flip("invalid", "valid"), Verdict.WARN),
        ("http01.redirect-followed", flip("valid", "invalid"), Verdict.WARN),
        ("http01.content-type-irrelevant", flip("valid", "invalid"), Verdict.WARN),
        ("http01.validation-request", flip("valid", "invalid"), Verdict.FAIL),
    ],
)
def test_fails_on_fault(run_check: CheckRunner, check_id: str, hook, verdict: Verdict) -> None:  # type: ignore[no-untyped-def]
    assert_verdict(run_check(check_id, hook), verdict)


def test_validation_request_for_another_host_fails(run_check: CheckRunner) -> None:
    """The check compares the Host the responder saw with the authorization's domain."""
    hook = on("/authZ/", lambda r, b: b["identifier"].__setitem__("value", "elsewhere.example"))
    assert_verdict(run_check("http01.validation-request", hook), Verdict.FAIL, "Host")


def test_trailing_whitespace_is_a_pebble_deviation(run_check: CheckRunner) -> None:
    """Pebble 2.4.0 trims CR/LF but not a trailing space (baseline); shown valid, the check passes."""
    assert_verdict(run_check("http01.trailing-whitespace-ignored"), Verdict.WARN, "b' \\t'")
    assert_verdict(run_check("http01.trailing-whitespace-ignored", flip("invalid", "valid")), Verdict.PASS)
