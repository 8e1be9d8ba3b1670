"""Fail/pass proofs for the generic challenge checks (scenarios/s08_challenges.py)."""

from __future__ import annotations

import itertools

import pytest
from conftest import CheckRunner, assert_verdict
from faults import rebuild
from faults_challenges import each_challenge, is_fetch, on, payload_is, problem, replace_when, with_json

from conformance.model import Verdict


def _nth_post(fragment: str, n: int, make):  # type: ignore[no-untyped-def]
    """Apply ``make`` to the n-th (1-based) non-fetch POST under ``fragment``."""
    counter = itertools.count(1)

    def hook(request, response):  # type: ignore[no-untyped-def]
        if request.method == "POST" and fragment in request.url.path and not is_fetch(request):
            if next(counter) == n:
                return make(request, response)
        return response

    return hook


def _processing_with_error(request, response):  # type: ignore[no-untyped-def]
    """The challenge looks like one the server keeps retrying: processing with an error entry."""
    if "/chalZ/" in request.url.path and is_fetch(request):
        body = response.json()
        if body.get("status") == "invalid":
            body["status"] = "processing"
            return with_json(response, body)
    return response


CHALLENGE_IDS = [
    "challenge.required-fields", "challenge.status-values", "challenge.response-returns-challenge",
    "challenge.unknown-response-fields-ignored", "challenge.non-object-response-rejected", "challenge.token-syntax",
    "challenge.retry-state-exposed", "challenge.repost-after-final", "challenge.key-authorization-of-current-key",
    "challenge.failure-has-error", "challenge.success-propagates",
]

FAULTS = {
    "challenge.required-fields": (on("/authZ/", each_challenge(lambda c: c.pop("url", None))), Verdict.FAIL),
    "challenge.status-values": (on("/authZ/", each_challenge(lambda c: c.__setitem__("status", "done"))),
                                Verdict.FAIL),
    "challenge.response-returns-challenge": (
        replace_when(lambda r: "/chalZ/" in r.url.path and payload_is(r, {}),
                     lambda q, s: with_json(s, {"identifier": {"type": "dns", "value": "x"}, "status": "pending",
                                                "challenges": []})), Verdict.WARN),
    "challenge.unknown-response-fields-ignored": (
        replace_when(lambda r: "/chalZ/" in r.url.path and payload_is(r, {"x-unknown": "v"}),
                     lambda q, s: problem(s, 400, "malformed")), Verdict.FAIL),
    "challenge.non-object-response-rejected": (
        replace_when(lambda r: "/chalZ/" in r.url.path and payload_is(r, []),
                     lambda q, s: with_json(s, {"type": "http-01", "status": "pending"}, 200)), Verdict.FAIL),
    "challenge.token-syntax": (on("/authZ/", each_challenge(lambda c: c.__setitem__("token", c["token"] + "=="))),
                               Verdict.FAIL),
    "challenge.retry-state-exposed": (_processing_with_error, Verdict.FAIL),
    "challenge.repost-after-final": (_nth_post("/chalZ/", 2, lambda q, s: rebuild(s, status=500, content=b"oops")),
                                     Verdict.WARN),
    "challenge.key-authorization-of-current-key": (
        on("/authZ/", lambda r, b: b.__setitem__("status", "valid") if b.get("status") == "invalid" else None),
        Verdict.WARN),
    "challenge.failure-has-error": (
        on("/authZ/", each_challenge(lambda c: c.get("error", {}).__setitem__("type", "about:blank")
                                     if "error" in c else None)), Verdict.WARN),
    "challenge.success-propagates": (
        on("/my-order/", lambda r, b: b.__setitem__("status", "invalid") if b.get("status") == "ready" else None),
        Verdict.WARN),
}


@pytest.mark.parametrize("check_id", CHALLENGE_IDS)
def test_passes_on_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


@pytest.mark.parametrize("check_id", sorted(FAULTS))
def test_fails_on_fault(run_check: CheckRunner, check_id: str) -> None:
    hook, verdict = FAULTS[check_id]
    assert_verdict(run_check(check_id, hook), verdict)


def test_retrying_server_with_retry_after_passes(run_check: CheckRunner) -> None:
    def retrying(request, response):  # type: ignore[no-untyped-def]
        response = _processing_with_error(request, response)
        if "/chalZ/" in request.url.path and is_fetch(request):
            return rebuild(response, headers={"Retry-After": "1"})
        return response

    result = run_check("challenge.retry-state-exposed", retrying)
    assert_verdict(result, Verdict.PASS)
    assert any("retried" in note for note in result.notes)


def test_missing_link_up_is_a_warning(run_check: CheckRunner) -> None:
    def no_link(request, response):  # type: ignore[no-untyped-def]
        if "/chalZ/" in request.url.path and payload_is(request, {}):
            return rebuild(response, headers={"Link": None})
        return response

    assert_verdict(run_check("challenge.response-returns-challenge", no_link), Verdict.WARN, "Link")
