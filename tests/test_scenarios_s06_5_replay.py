"""Fail/pass proofs for the replay-protection checks (scenarios/s06_5_replay.py)."""

from __future__ import annotations

import itertools

import httpx
from conftest import CheckRunner, assert_verdict
from faults import path_contains, rebuild, set_header
from faults_jws import StrictNonces, accept, body_where, jws_where, problem

from conformance.model import Verdict

ORDER = "/order-plz"


def test_every_nonce_well_formed(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.every-nonce-well-formed"), Verdict.PASS)
    padded = set_header(path_contains(ORDER, "POST"), "Replay-Nonce", "c29tZS1ub25jZQ==")
    assert_verdict(run_check("nonce.every-nonce-well-formed", padded), Verdict.FAIL, "base64url")


def test_success_post_has_nonce(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.success-post-has-nonce"), Verdict.PASS)
    dropped = set_header(path_contains("/my-order/", "POST"), "Replay-Nonce", None)
    assert_verdict(run_check("nonce.success-post-has-nonce", dropped), Verdict.FAIL, "/my-order/")


def test_error_post_has_nonce(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.error-post-has-nonce"), Verdict.PASS)

    def drop_on_errors(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method == "POST" and response.status_code >= 400:
            return rebuild(response, headers={"Replay-Nonce": None})
        return response

    assert_verdict(run_check("nonce.error-post-has-nonce", drop_on_errors), Verdict.WARN, "without Replay-Nonce")


def test_unknown_nonce_rejected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.unknown-nonce-rejected"), Verdict.PASS)
    order = path_contains(ORDER, "POST")
    assert_verdict(run_check("nonce.unknown-nonce-rejected", accept(order)), Verdict.FAIL, "badNonce")
    assert_verdict(run_check("nonce.unknown-nonce-rejected", problem(order, 403, "badNonce")), Verdict.FAIL, "HTTP 400")
    assert_verdict(run_check("nonce.unknown-nonce-rejected", problem(order, 400, "malformed")), Verdict.FAIL, "badNonce")


def test_reused_nonce_rejected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.reused-nonce-rejected"), Verdict.PASS)
    lax = accept(path_contains("/my-account/", "POST"), status=200)
    assert_verdict(run_check("nonce.reused-nonce-rejected", lax), Verdict.FAIL, "badNonce")


def test_missing_nonce_rejected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.missing-nonce-rejected"), Verdict.PASS)
    lax = accept(jws_where(lambda h: "nonce" not in h, ORDER))
    assert_verdict(run_check("nonce.missing-nonce-rejected", lax), Verdict.FAIL, "badNonce")


def test_bad_nonce_retry_works(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.bad-nonce-retry-works"), Verdict.PASS)
    no_fresh = set_header(path_contains(ORDER, "POST"), "Replay-Nonce", None)
    assert_verdict(run_check("nonce.bad-nonce-retry-works", no_fresh), Verdict.FAIL, "no Replay-Nonce")
    calls = itertools.count()
    refuse_retry = problem(lambda r: r.method == "POST" and ORDER in r.url.path and next(calls) >= 1, 400, "badNonce")
    assert_verdict(run_check("nonce.bad-nonce-retry-works", refuse_retry), Verdict.FAIL, "retry")


def test_spent_by_bad_signature(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 checks the nonce only after the signature: a failed request leaves it valid (baseline).
    assert_verdict(run_check("nonce.spent-by-bad-signature"), Verdict.FAIL, "corrupted signature")
    assert_verdict(run_check("nonce.spent-by-bad-signature", StrictNonces()), Verdict.PASS)


def test_spent_by_url_mismatch(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.spent-by-url-mismatch"), Verdict.PASS)
    lax = accept(jws_where(lambda h: str(h.get("url", "")).endswith(ORDER), ORDER))
    assert_verdict(run_check("nonce.spent-by-url-mismatch", lax), Verdict.FAIL, "url mismatch")


def test_invalid_encoding_rejected(run_check: CheckRunner) -> None:
    result = run_check("nonce.invalid-encoding-rejected")
    assert_verdict(result, Verdict.PASS)
    order = path_contains(ORDER, "POST")
    assert_verdict(run_check("nonce.invalid-encoding-rejected", problem(order, 400, "malformed")), Verdict.PASS)
    assert_verdict(run_check("nonce.invalid-encoding-rejected", accept(order)), Verdict.FAIL)
    assert_verdict(run_check("nonce.invalid-encoding-rejected", problem(order, 400, "unauthorized")), Verdict.FAIL)


def test_unprotected_nonce_rejected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.unprotected-nonce-rejected"), Verdict.PASS)
    lax = accept(body_where(lambda b: isinstance(b, dict) and "nonce" in b.get("header", {}), ORDER))
    assert_verdict(run_check("nonce.unprotected-nonce-rejected", lax), Verdict.FAIL, "not rejected")
