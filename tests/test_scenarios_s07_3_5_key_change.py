"""Fail/pass proofs for account key rollover (scenarios/s07_3_5_key_change.py)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import CheckRunner, assert_verdict
from faults import edit_json, rebuild, replace_with, set_status
from faults_accounts import ACCOUNT, KEY_CHANGE, ORDER, after, both, post_as_get

from conformance.model import Verdict

NEGATIVE = [
    "keychange.outer-jwk-rejected",
    "keychange.outer-payload-not-jws",
    "keychange.inner-needs-jwk",
    "keychange.inner-signature-verified",
    "keychange.inner-payload-complete",
    "keychange.inner-url-matches",
    "keychange.account-matches-signer",
    "keychange.old-key-matches",
]
ACCEPTED = replace_with(KEY_CHANGE, 200)


def test_rollover(run_check: CheckRunner) -> None:
    assert_verdict(run_check("keychange.rollover"), Verdict.PASS)
    assert_verdict(run_check("keychange.rollover", set_status(KEY_CHANGE, 202)), Verdict.FAIL, "HTTP 200")
    # After the change, a request signed with the old key is answered as if it still worked.
    old_key_works = after(KEY_CHANGE, lambda q, r: rebuild(r, status=200, content=b"{}")
                          if ACCOUNT(q) and r.status_code >= 400 else r)
    assert_verdict(run_check("keychange.rollover", old_key_works), Verdict.FAIL, "old key")
    elsewhere = after(KEY_CHANGE, lambda q, r: rebuild(r, headers={"Location": "https://127.0.0.1/my-account/other"})
                      if "/sign-me-up" in q.url.path else r)
    assert_verdict(run_check("keychange.rollover", elsewhere), Verdict.FAIL, "same account URL")


@pytest.mark.parametrize("check_id", NEGATIVE)
def test_negative_key_changes(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)
    assert_verdict(run_check(check_id, ACCEPTED), Verdict.FAIL, "not rejected")


def test_rejected_but_applied(run_check: CheckRunner) -> None:
    """A 4xx that still broke the account: the old key must keep working after a refused change."""
    broken = after(KEY_CHANGE, set_status(both(ACCOUNT, post_as_get), 401))
    assert_verdict(run_check("keychange.old-key-matches", broken), Verdict.FAIL, "no longer accepts")


def _repair_conflict(request, response):  # type: ignore[no-untyped-def]
    """Pebble answers 500 serverInternal naming the account that holds the key: turn it into 409 + Location."""
    if not KEY_CHANGE(request) or response.status_code != 500:
        return response
    match = re.search(r"in use by account (\w+)", response.text)
    if not match:
        return response
    location = f"{request.url.scheme}://{request.url.netloc.decode()}/my-account/{match.group(1)}"
    body = {"type": "urn:ietf:params:acme:error:malformed", "detail": "key in use", "status": 409}
    return rebuild(response, status=409, content=json.dumps(body).encode(), headers={"Location": location})


def test_new_key_in_use(run_check: CheckRunner) -> None:
    # Pebble 2.4.0: 500 serverInternal without Location (baselines/pebble/s07_3_5_key_change.toml).
    assert_verdict(run_check("keychange.new-key-in-use"), Verdict.WARN, "HTTP 500")
    assert_verdict(run_check("keychange.new-key-in-use", _repair_conflict), Verdict.PASS)
    assert_verdict(run_check("keychange.new-key-in-use", ACCEPTED), Verdict.FAIL, "accepted")


def test_pending_order_survives(run_check: CheckRunner) -> None:
    assert_verdict(run_check("keychange.pending-order-survives"), Verdict.PASS)
    invalidated = after(KEY_CHANGE, edit_json(both(ORDER, post_as_get), lambda b: {**b, "status": "invalid"}))
    assert_verdict(run_check("keychange.pending-order-survives", invalidated), Verdict.FAIL, "did not survive")
    finalize_refused = set_status(lambda q: "/finalize-order/" in q.url.path, 403)
    assert_verdict(run_check("keychange.pending-order-survives", finalize_refused), Verdict.FAIL, "finalizing")
