"""Fail/pass proofs for the pre-authorization checks (scenarios/s07_4_1_preauthorization.py).

Pebble 2.4.0 has no newAuthz, so the checks SKIP there; FakePreauth plays the feature in front of it."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults_challenges import FakePreauth

from conformance.model import Verdict

IDS = ["preauth.creates-pending-authz", "preauth.wildcard-refused", "preauth.unsupported-type-refused",
       "preauth.used-by-later-order"]


@pytest.mark.parametrize("check_id", IDS)
def test_skips_on_plain_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.SKIP, "newAuthz")


@pytest.mark.parametrize("check_id", IDS)
def test_passes_with_newauthz(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id, FakePreauth()), Verdict.PASS)


@pytest.mark.parametrize(
    ("check_id", "breaks", "verdict"),
    [
        ("preauth.creates-pending-authz", "status-200", Verdict.FAIL),
        ("preauth.wildcard-refused", "wildcard", Verdict.WARN),
        ("preauth.unsupported-type-refused", "any-type", Verdict.WARN),
        ("preauth.used-by-later-order", "no-reuse", Verdict.WARN),
    ],
)
def test_fails_on_broken_newauthz(run_check: CheckRunner, check_id: str, breaks: str, verdict: Verdict) -> None:
    assert_verdict(run_check(check_id, FakePreauth(breaks)), verdict)
