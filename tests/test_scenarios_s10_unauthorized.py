"""Fail/pass proofs for the access-control checks (scenarios/s10_unauthorized.py).

Pebble refuses every cross-account request with 403 unauthorized, so the failures are produced by
hooks that let the second account through (or, for the CSR checks, by a canned CA that issues for
every name a CSR lists).
"""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import CheckRunner, assert_verdict
from faults import edit_json, path_contains, rebuild, replace_with
from faults_orders import FINALIZE, NEW_ORDER, ORDER, after, capture_new_orders, issue_as_requested, nth

from conformance.model import Verdict

AUTHZ = path_contains("/authZ/", "POST")
CHALLENGE = path_contains("/chalZ/", "POST")
LIST = path_contains("/list-orderz/", "POST")
LET_THROUGH = {"status": "pending", "identifier": {"type": "dns", "value": "x.example"}}


def _refusals_become(status: int):  # type: ignore[no-untyped-def]
    """Turn Pebble's 403 refusals on certificate downloads into ``status``."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if "/certZ/" in request.url.path and response.status_code == 403:
            return rebuild(response, status=status, content=b"")
        return response

    return hook


@pytest.mark.parametrize(("check_id", "where"), [
    ("unauthorized.foreign-order-read", ORDER),
    ("unauthorized.foreign-authorization-read", AUTHZ),
    ("unauthorized.foreign-order-finalize", FINALIZE),
    ("unauthorized.foreign-authorization-deactivate", AUTHZ),
    ("unauthorized.foreign-challenge-respond", CHALLENGE),
])
def test_cross_account_requests_refused(run_check: CheckRunner, check_id: str, where) -> None:  # type: ignore[no-untyped-def]
    result = run_check(check_id)
    assert_verdict(result, Verdict.PASS)
    # Pebble's answer to the intruder really is a 4xx (the check's evidence shows it).
    assert any(e.status == 403 for e in result.exchanges if (e.note or "").startswith("the second account"))
    if check_id == "unauthorized.foreign-challenge-respond":
        # Only the intruder's POST {} is let through: the owner's fetches stay real.
        where = nth(CHALLENGE, 1, replace_with(CHALLENGE, 200, LET_THROUGH))
    elif check_id == "unauthorized.foreign-authorization-deactivate":
        where = nth(AUTHZ, 1, replace_with(AUTHZ, 200, {**LET_THROUGH, "status": "deactivated"}))
    else:
        where = replace_with(where, 200, LET_THROUGH)
    assert_verdict(run_check(check_id, where), Verdict.FAIL, "not refused")


def test_refused_but_changed_anyway(run_check: CheckRunner) -> None:
    """A 4xx is not enough: the owner's object must be untouched afterwards."""
    moved = after(FINALIZE, edit_json(ORDER, lambda b: {**b, "status": "valid", "certificate": "https://x.invalid/c"}))
    assert_verdict(run_check("unauthorized.foreign-order-finalize", moved), Verdict.FAIL, "still moved")
    deactivated = nth(AUTHZ, 2, edit_json(AUTHZ, lambda b: {**b, "status": "deactivated"}))
    assert_verdict(run_check("unauthorized.foreign-authorization-deactivate", deactivated), Verdict.FAIL,
                   "still changed")
    triggered = after(path_contains("/chalZ/", "POST"), edit_json(CHALLENGE, lambda b: {**b, "status": "processing"}))
    assert_verdict(run_check("unauthorized.foreign-challenge-respond", triggered), Verdict.FAIL, "started validation")


def test_foreign_orders_list(run_check: CheckRunner) -> None:
    assert_verdict(run_check("unauthorized.foreign-orders-list-read"), Verdict.PASS)
    seen, capture = capture_new_orders()

    def leak(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        response = capture(request, response)
        if LIST(request):
            body = b'{"orders": ["%s"]}' % seen[0]["url"].encode()
            return rebuild(response, status=200, content=body, headers={"Content-Type": "application/json"})
        return response

    assert_verdict(run_check("unauthorized.foreign-orders-list-read", leak), Verdict.FAIL, "not refused")
    # The requester's own (empty) list instead of a refusal leaks nothing.
    own_list = replace_with(LIST, 200, {"orders": []})
    assert_verdict(run_check("unauthorized.foreign-orders-list-read", own_list), Verdict.PASS)
    # As acme2certifier does: the orders URL answers the requester's own account object.
    own_account = replace_with(LIST, 200, {"status": "valid", "contact": []})
    assert_verdict(run_check("unauthorized.foreign-orders-list-read", own_account), Verdict.PASS)


def test_foreign_certificate_read(run_check: CheckRunner) -> None:
    assert_verdict(run_check("unauthorized.foreign-certificate-read"), Verdict.PASS)
    assert_verdict(run_check("unauthorized.foreign-certificate-read", _refusals_become(200)), Verdict.INFO, "public")
    assert_verdict(run_check("unauthorized.foreign-certificate-read", _refusals_become(500)), Verdict.WARN,
                   "HTTP 500")


def test_no_cross_account_authorization_reuse(run_check: CheckRunner) -> None:
    assert_verdict(run_check("unauthorized.no-cross-account-authorization-reuse"), Verdict.PASS)
    seen, capture = capture_new_orders()

    def reuse(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        response = capture(request, response)
        if NEW_ORDER(request) and len(seen) == 2:
            body = dict(seen[1]["body"], authorizations=seen[0]["body"]["authorizations"])
            return rebuild(response, content=json.dumps(body).encode())
        return response

    assert_verdict(run_check("unauthorized.no-cross-account-authorization-reuse", reuse), Verdict.FAIL,
                   "first account's authorization")


def test_finalize_pending_no_certificate(run_check: CheckRunner) -> None:
    assert_verdict(run_check("unauthorized.finalize-pending-no-certificate"), Verdict.PASS)
    assert_verdict(run_check("unauthorized.finalize-pending-no-certificate",
                             replace_with(FINALIZE, 200, {"status": "processing"})), Verdict.FAIL, "accepted")
    processing = after(FINALIZE, edit_json(ORDER, lambda b: {**b, "status": "processing"}))
    assert_verdict(run_check("unauthorized.finalize-pending-no-certificate", processing), Verdict.FAIL,
                   "towards issuance")


@pytest.mark.parametrize("variant", ["extra-san", "foreign-cn", "swapped-name"])
def test_csr_foreign_names(run_check: CheckRunner, variant: str) -> None:
    check_id = f"unauthorized.csr-{variant}-no-certificate"
    assert_verdict(run_check(check_id), Verdict.PASS)
    # A CA that signs whatever the CSR names issues for the stranger: the check must catch it.
    assert_verdict(run_check(check_id, issue_as_requested()), Verdict.FAIL, "not authorized")
