"""Fail/pass proofs for the authorization checks (scenarios/s07_5_authorizations.py)."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults_challenges import (
    AfterPost,
    StickyInvalid,
    is_fetch,
    on,
    payload_is,
    problem,
    replace_when,
    when_status,
    with_json,
)

from conformance.model import Verdict


def _drop(name: str):  # type: ignore[no-untyped-def]
    return lambda body: body.pop(name, None)


def _set(name: str, value):  # type: ignore[no-untyped-def]
    return lambda body: body.__setitem__(name, value)


def _deactivation_accepted(request, response):  # type: ignore[no-untyped-def]
    return with_json(response, {"status": "deactivated", "identifier": {"type": "dns", "value": "x"},
                                "challenges": []}, 200)


PASSING = [
    "authz.required-fields", "authz.status-values", "authz.wildcard-base-name", "authz.dns-identifier-encoding",
    "authz.pending-lists-challenges", "authz.valid-after-validation", "authz.invalid-keeps-challenge",
    "authz.fetch-during-validation", "authz.deactivation", "authz.deactivation-needs-owner",
    "authz.deactivated-not-usable", "authz.update-only-deactivation",
]

FAULTS = {
    # A valid authorization without expires; a pending one without identifier.
    "authz.required-fields": on("/authZ/", lambda r, b: when_status("valid", _drop("expires"))(r, b)),
    "authz.status-values": on("/authZ/", lambda r, b: when_status("invalid", _set("status", "failed"))(r, b)),
    "authz.wildcard-base-name": on("/authZ/", lambda r, b: b.pop("wildcard", None)),
    "authz.dns-identifier-encoding": on("/authZ/", lambda r, b: b["identifier"].__setitem__(
        "value", b["identifier"]["value"] + ".")),
    "authz.pending-lists-challenges": on("/authZ/", lambda r, b: b.__setitem__("challenges", [])),
    "authz.valid-after-validation": on("/authZ/", lambda r, b: when_status("valid", lambda x: [
        c.pop("validated", None) for c in x.get("challenges", [])])(r, b)),
    "authz.invalid-keeps-challenge": on("/authZ/", lambda r, b: when_status("invalid", _set("challenges", []))(r, b)),
    "authz.fetch-during-validation": AfterPost("/chalZ/", lambda r: "/authZ/" in r.url.path and is_fetch(r),
                                               lambda q, s: problem(s, 500, "serverInternal")),
    "authz.deactivation": on("/authZ/", lambda r, b: b.__setitem__("status", "pending")
                             if payload_is(r, {"status": "deactivated"}) else None),
    "authz.deactivation-needs-owner": replace_when(
        lambda r: "/authZ/" in r.url.path and payload_is(r, {"status": "deactivated"}), _deactivation_accepted),
    "authz.deactivated-not-usable": replace_when(
        lambda r: "/finalize-order/" in r.url.path,
        lambda q, s: with_json(s, {"status": "processing", "identifiers": [], "authorizations": [],
                                   "finalize": str(q.url)}, 200)),
    "authz.update-only-deactivation": replace_when(
        lambda r: "/authZ/" in r.url.path and payload_is(r, {"status": "valid"}), _deactivation_accepted),
}


@pytest.mark.parametrize("check_id", PASSING)
def test_passes_on_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


@pytest.mark.parametrize("check_id", sorted(FAULTS))
def test_fails_on_fault(run_check: CheckRunner, check_id: str) -> None:
    descriptive = {"authz.deactivation": Verdict.WARN, "authz.update-only-deactivation": Verdict.WARN,
                   "authz.invalid-keeps-challenge": Verdict.WARN}
    assert_verdict(run_check(check_id, FAULTS[check_id]), descriptive.get(check_id, Verdict.FAIL))


def test_invalid_authz_deactivation_is_a_pebble_deviation(run_check: CheckRunner) -> None:
    """Pebble 2.4.0 moves an invalid authorization to deactivated (baseline); repaired, the check passes."""
    assert_verdict(run_check("authz.invalid-stays-invalid"), Verdict.WARN, "deactivated")
    assert_verdict(run_check("authz.invalid-stays-invalid", StickyInvalid()), Verdict.PASS)


def test_wildcard_plain_authz_must_not_carry_wildcard(run_check: CheckRunner) -> None:
    hook = on("/authZ/", lambda r, b: b.setdefault("wildcard", False))
    assert_verdict(run_check("authz.wildcard-base-name", hook), Verdict.FAIL, "non-wildcard")
