"""Fail/pass proofs for the security checks (scenarios/s11_security.py)."""

from __future__ import annotations

import dataclasses
import itertools

import httpx
import pytest
from conftest import CheckRunner, assert_verdict
from faults import edit_json, path_contains, rebuild
from faults_orders import NEW_ORDER, nth

from conformance.model import Verdict
from conformance.responders.builtin import BuiltinResponders
from scenarios.s11_security import predictable_difference

AUTHZ = path_contains("/authZ/", "POST")
NEW_ACCOUNT = path_contains("/sign-me-up", "POST")


def test_predictable_difference() -> None:
    assert predictable_difference("https://ca/acct/41", "https://ca/acct/42")
    assert predictable_difference("https://ca/order/7/100", "https://ca/order/7/101")
    assert predictable_difference("https://ca/acct/Xa9", "https://ca/acct/Yb3") is None
    assert predictable_difference("https://ca/acct/41", "https://ca/acct/42/x") is None
    assert predictable_difference("https://ca/acct/41", "https://ca/acct/41") is None


def test_unpredictable_urls(run_check: CheckRunner) -> None:
    assert_verdict(run_check("security.unpredictable-urls"), Verdict.PASS)
    counter = itertools.count(1000)

    def numbered(body):  # type: ignore[no-untyped-def]
        base = body["authorizations"][0].rsplit("/", 1)[0]
        return {**body, "authorizations": [f"{base}/{next(counter)}"]}

    assert_verdict(run_check("security.unpredictable-urls", edit_json(NEW_ORDER, numbered)), Verdict.WARN,
                   "decimal numbers")

    def named(body):  # type: ignore[no-untyped-def]
        base = body["authorizations"][0].rsplit("/", 1)[0]
        return {**body, "authorizations": [f"{base}/{body['identifiers'][0]['value']}"]}

    assert_verdict(run_check("security.unpredictable-urls", edit_json(NEW_ORDER, named)), Verdict.WARN,
                   "contains the identifier")


def test_foreign_and_missing(run_check: CheckRunner) -> None:
    # Pebble: 403 unauthorized for a foreign object, 404 for a missing one: information only.
    assert_verdict(run_check("security.foreign-and-missing-look-alike"), Verdict.INFO, "distinguishable")

    def hide(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if response.status_code == 403 and any(p in request.url.path for p in ("/my-order/", "/authZ/")):
            return rebuild(response, status=404, content=b"", headers={"Content-Type": None})
        return response

    assert_verdict(run_check("security.foreign-and-missing-look-alike", hide), Verdict.PASS)


def test_account_key_single_account(run_check: CheckRunner) -> None:
    assert_verdict(run_check("security.account-key-single-account"), Verdict.PASS)

    def second_account(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return rebuild(response, headers={"Location": str(response.headers["Location"]) + "-twin"})

    assert_verdict(run_check("security.account-key-single-account", nth(NEW_ACCOUNT, 2, second_account)),
                   Verdict.FAIL, "second account")


@pytest.mark.parametrize(("token", "message"), [("c2hvcnQ", "shorter"), ("a" * 42 + "=", "base64url"),
                                                 ("same-token-everywhere-" + "x" * 21, "share")])
def test_token_entropy(run_check: CheckRunner, token: str, message: str) -> None:
    def retoken(body):  # type: ignore[no-untyped-def]
        for challenge in body.get("challenges", []):
            challenge["token"] = token
        return body

    assert_verdict(run_check("security.token-entropy", edit_json(AUTHZ, retoken)), Verdict.FAIL, message)


def test_token_entropy_passes(run_check: CheckRunner) -> None:
    assert_verdict(run_check("security.token-entropy"), Verdict.PASS)


def test_dns_over_tcp(run_check: CheckRunner, harness, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # Pebble 2.4.0 asks over UDP only: information (the catalogue's grading for a lab resolver path).
    assert_verdict(run_check("security.dns-queries-over-tcp"), Verdict.INFO, "UDP only")
    backend = harness.backend
    assert isinstance(backend, BuiltinResponders)
    # A canned responder log: the same queries, as a server that uses TCP would have made them.
    real = backend.dns.queries
    monkeypatch.setattr(backend.dns, "queries", lambda: [dataclasses.replace(q, protocol="tcp") for q in real()])
    assert_verdict(run_check("security.dns-queries-over-tcp"), Verdict.PASS)
