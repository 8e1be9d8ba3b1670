"""Fail/pass proofs for account deactivation (scenarios/s07_3_6_deactivation.py)."""

from __future__ import annotations

from conftest import CheckRunner, assert_verdict
from faults import chain, edit_json, replace_with
from faults_accounts import (
    ACCOUNT,
    KEY_CHANGE,
    NEW_ACCOUNT,
    after,
    both,
    kid_is_not_url,
    payload_is,
    post_as_get,
    problem,
    status_401_for_403_unauthorized,
)

from conformance.model import Verdict

DEACTIVATE = both(ACCOUNT, payload_is(lambda p: p.get("status") == "deactivated"))


def test_returns_deactivated(run_check: CheckRunner) -> None:
    assert_verdict(run_check("deactivation.returns-deactivated"), Verdict.PASS)
    still_valid = edit_json(DEACTIVATE, lambda b: {**b, "status": "valid"})
    assert_verdict(run_check("deactivation.returns-deactivated", still_valid), Verdict.WARN, "deactivated")


def test_posts_unauthorized(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 answers 403 (baselines/pebble/s07_3_6_deactivation.toml); RFC 8555 §7.3.6 names 401.
    assert_verdict(run_check("deactivation.posts-unauthorized"), Verdict.FAIL, "HTTP 403")
    assert_verdict(run_check("deactivation.posts-unauthorized", status_401_for_403_unauthorized), Verdict.PASS)
    # A server that still takes orders from the deactivated account.
    takes_orders = chain(status_401_for_403_unauthorized,
                         after(DEACTIVATE, replace_with(lambda q: "/order-plz" in q.url.path, 201, {"status": "pending"})))
    assert_verdict(run_check("deactivation.posts-unauthorized", takes_orders), Verdict.FAIL, "newOrder")


def test_post_as_get_unauthorized(run_check: CheckRunner) -> None:
    assert_verdict(run_check("deactivation.post-as-get-unauthorized"), Verdict.FAIL, "HTTP 403")
    assert_verdict(run_check("deactivation.post-as-get-unauthorized", status_401_for_403_unauthorized), Verdict.PASS)
    readable = chain(status_401_for_403_unauthorized,
                     after(DEACTIVATE, replace_with(lambda q: "/authZ/" in q.url.path, 200, {"status": "pending"})))
    assert_verdict(run_check("deactivation.post-as-get-unauthorized", readable), Verdict.FAIL, "authorization")


def test_only_by_owner(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 deactivates the signer (account B) and answers 200 (baseline WARN).
    assert_verdict(run_check("deactivation.only-by-owner"), Verdict.WARN, "deactivated account B")
    foreign = both(DEACTIVATE, kid_is_not_url)
    refused = problem(foreign, 403, "unauthorized")
    assert_verdict(run_check("deactivation.only-by-owner", refused), Verdict.PASS)
    victim_gone = chain(refused, after(foreign, edit_json(both(ACCOUNT, post_as_get),
                                                          lambda b: {**b, "status": "deactivated"})))
    assert_verdict(run_check("deactivation.only-by-owner", victim_gone), Verdict.FAIL, "another account")


def test_no_reactivation(run_check: CheckRunner) -> None:
    result = run_check("deactivation.no-reactivation")
    assert_verdict(result, Verdict.PASS)
    assert any("401" in note for note in result.notes), result.notes  # Pebble's 403 is noted, judged elsewhere
    reactivate = both(ACCOUNT, payload_is(lambda p: p.get("status") == "valid"))
    accepted = replace_with(reactivate, 200, {"status": "valid"})
    assert_verdict(run_check("deactivation.no-reactivation", accepted), Verdict.FAIL, "not rejected")
    works_again = after(reactivate, replace_with(lambda q: "/order-plz" in q.url.path, 201, {"status": "pending"}))
    assert_verdict(run_check("deactivation.no-reactivation", works_again), Verdict.FAIL, "works again")


def test_certificates_not_revoked(run_check: CheckRunner) -> None:
    assert_verdict(run_check("deactivation.certificates-not-revoked"), Verdict.PASS)
    revoked = problem(lambda q: "/revoke-cert" in q.url.path, 400, "alreadyRevoked")
    assert_verdict(run_check("deactivation.certificates-not-revoked", revoked), Verdict.WARN, "revoked by")


def test_key_no_longer_accepted(run_check: CheckRunner) -> None:
    assert_verdict(run_check("deactivation.key-no-longer-accepted"), Verdict.PASS)
    new_account = after(DEACTIVATE, replace_with(NEW_ACCOUNT, 201, {"status": "valid"},
                                                 headers={"Location": "https://127.0.0.1/my-account/fresh"}))
    assert_verdict(run_check("deactivation.key-no-longer-accepted", new_account), Verdict.FAIL, "created a new account")

    def same_account(request, response):  # type: ignore[no-untyped-def]
        if NEW_ACCOUNT(request):
            # 200 with the deactivated account's own URL: the §7.3.1 reading.
            return replace_with(NEW_ACCOUNT, 200, {"status": "deactivated"},
                                headers={"Location": seen["url"]})(request, response)
        return response

    seen: dict[str, str] = {}

    def remember(request, response):  # type: ignore[no-untyped-def]
        if DEACTIVATE(request):
            seen["url"] = str(request.url)
        return response

    assert_verdict(run_check("deactivation.key-no-longer-accepted", chain(remember, after(DEACTIVATE, same_account))),
                   Verdict.WARN, "§7.3.1")
    other_type = after(DEACTIVATE, problem(NEW_ACCOUNT, 400, "malformed"))
    assert_verdict(run_check("deactivation.key-no-longer-accepted", other_type), Verdict.WARN, "unauthorized")


def test_key_change_refused(run_check: CheckRunner) -> None:
    assert_verdict(run_check("deactivation.key-change-refused"), Verdict.PASS)
    accepted = replace_with(KEY_CHANGE, 200)
    assert_verdict(run_check("deactivation.key-change-refused", accepted), Verdict.FAIL, "not rejected")
