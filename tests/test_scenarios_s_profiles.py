"""Fail/pass proofs for the profile checks (scenarios/s_profiles.py).

Pebble 2.4.0 advertises no profiles: the checks SKIP there; FakeProfiles plays the draft in front of it."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults_challenges import FakeProfiles

from conformance.model import Verdict

IDS = ["profiles.directory-map", "profiles.unknown-profile-refused", "profiles.selected-profile-shown",
       "profiles.default-selected"]


@pytest.mark.parametrize("check_id", IDS)
def test_skips_on_plain_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.SKIP, "profiles")


@pytest.mark.parametrize("check_id", IDS)
def test_passes_with_profiles(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id, FakeProfiles()), Verdict.PASS)


@pytest.mark.parametrize(
    ("check_id", "breaks", "verdict"),
    [
        ("profiles.directory-map", "list", Verdict.FAIL),
        ("profiles.unknown-profile-refused", "accept-unknown", Verdict.FAIL),
        ("profiles.selected-profile-shown", "no-echo", Verdict.WARN),
        ("profiles.selected-profile-shown", "forget-later", Verdict.WARN),
        ("profiles.default-selected", "no-default", Verdict.WARN),
    ],
)
def test_fails_on_broken_profiles(run_check: CheckRunner, check_id: str, breaks: str, verdict: Verdict) -> None:
    assert_verdict(run_check(check_id, FakeProfiles(breaks)), verdict)
