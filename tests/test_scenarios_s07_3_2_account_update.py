"""Fail/pass proofs for account update (scenarios/s07_3_2_account_update.py)."""

from __future__ import annotations

from conftest import CheckRunner, assert_verdict
from faults import chain, edit_json, replace_with, set_status
from faults_accounts import (
    ACCOUNT,
    after,
    both,
    has_member,
    kid_is_not_url,
    payload_is,
    post_as_get,
    problem,
    retype,
)

from conformance.model import Verdict

UPDATE = both(ACCOUNT, payload_is(lambda p: isinstance(p, dict) and "contact" in p))


def test_update_contact(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.update-contact"), Verdict.PASS)
    not_applied = edit_json(UPDATE, lambda b: {**b, "contact": ["mailto:old@x.example"]})  # Boulder since 2025
    assert_verdict(run_check("account.update-contact", not_applied), Verdict.WARN, "not show the new contact")
    assert_verdict(run_check("account.update-contact", set_status(UPDATE, 202)), Verdict.FAIL, "HTTP 200")
    assert_verdict(run_check("account.update-contact", problem(UPDATE, 403, "unauthorized")), Verdict.INFO,
                   "refused")


def test_update_ignores_orders(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.update-ignores-orders"), Verdict.PASS)
    with_orders = both(UPDATE, has_member("orders"))
    took = edit_json(with_orders, lambda b: {**b, "orders": "https://orders.invalid/acme-conformance"})
    assert_verdict(run_check("account.update-ignores-orders", took), Verdict.FAIL, "orders URL became")
    assert_verdict(run_check("account.update-ignores-orders", problem(with_orders, 400, "malformed")), Verdict.FAIL,
                   "refused")


def test_update_ignores_terms_agreed(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.update-ignores-terms-agreed"), Verdict.PASS)
    took = edit_json(both(UPDATE, has_member("termsOfServiceAgreed")), lambda b: {**b, "termsOfServiceAgreed": False})
    assert_verdict(run_check("account.update-ignores-terms-agreed", took), Verdict.FAIL, "termsOfServiceAgreed")


def test_update_ignores_status(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 refuses "status": "revoked" with malformed (baselines/pebble/s07_3_2_account_update.toml).
    assert_verdict(run_check("account.update-ignores-status"), Verdict.WARN, "revoked")
    revoked = both(UPDATE, payload_is(lambda p: p.get("status") == "revoked"))
    ignored = replace_with(revoked, 200, {"status": "valid", "orders": "https://127.0.0.1/list-orderz/x"})
    assert_verdict(run_check("account.update-ignores-status", ignored), Verdict.PASS)
    # The status really changing is a FAIL, whether in the answer or in the stored account.
    applied = chain(ignored, after(revoked, edit_json(both(ACCOUNT, post_as_get), lambda b: {**b, "status": "revoked"})))
    assert_verdict(run_check("account.update-ignores-status", applied), Verdict.FAIL, "status")


def test_update_ignores_unknown_fields(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.update-ignores-unknown-fields"), Verdict.PASS)
    unknown = both(UPDATE, has_member("x-acme-conformance"))
    assert_verdict(run_check("account.update-ignores-unknown-fields", problem(unknown, 400, "malformed")),
                   Verdict.FAIL, "refused")
    echoed = edit_json(unknown, lambda b: {**b, "x-acme-conformance": 1})
    assert_verdict(run_check("account.update-ignores-unknown-fields", echoed), Verdict.FAIL, "reflected")


def test_update_contact_rules(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.update-contact-rules"), Verdict.PASS)
    assert_verdict(run_check("account.update-contact-rules", retype(ACCOUNT, "unsupportedContact", "malformed")),
                   Verdict.FAIL, "unsupportedContact")
    assert_verdict(run_check("account.update-contact-rules", retype(ACCOUNT, "invalidContact", "malformed")),
                   Verdict.FAIL, "invalidContact")


def test_update_by_other_account(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 applies the update to the signer's account and answers 200 (baseline WARN).
    assert_verdict(run_check("account.update-by-other-account"), Verdict.WARN, "applied to account B")
    foreign = both(ACCOUNT, kid_is_not_url)
    refused = problem(foreign, 403, "unauthorized")
    assert_verdict(run_check("account.update-by-other-account", refused), Verdict.PASS)
    # Account A's contact really changed: the finding names it.
    leaked = chain(refused, after(foreign, edit_json(both(ACCOUNT, post_as_get),
                                                     lambda b: {**b, "contact": ["mailto:intruder@x.example"]})))
    assert_verdict(run_check("account.update-by-other-account", leaked), Verdict.WARN, "changed this account")
