"""Fail/pass proofs for account creation and lookup (scenarios/s07_3_accounts.py)."""

from __future__ import annotations

from conftest import CheckRunner, assert_verdict
from faults import chain, edit_json, replace_with, set_header, set_status
from faults_accounts import (
    ACCOUNT,
    NEW_ACCOUNT,
    ORDER,
    ORDERS,
    after,
    both,
    has_member,
    payload_is,
    post_as_get,
    problem,
    retype,
)

from conformance.model import Verdict

BOGUS_ORDERS = "https://orders.invalid/acme-conformance"


def _contact_has(text: str):  # type: ignore[no-untyped-def]
    return payload_is(lambda p: any(text in c for c in p.get("contact", [])))


def test_create_returns_201(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.create-returns-201"), Verdict.PASS)
    # descr. level: a wrong status or a missing Location is a WARN.
    assert_verdict(run_check("account.create-returns-201", set_status(NEW_ACCOUNT, 200)), Verdict.WARN, "HTTP 201")
    assert_verdict(run_check("account.create-returns-201", set_header(NEW_ACCOUNT, "Location", None)), Verdict.WARN,
                   "Location")
    assert_verdict(run_check("account.create-returns-201", set_header(NEW_ACCOUNT, "Location", "/relative")),
                   Verdict.WARN, "absolute")


def test_created_status_valid(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.created-status-valid"), Verdict.PASS)
    pending = edit_json(NEW_ACCOUNT, lambda b: {**b, "status": "pending"})
    assert_verdict(run_check("account.created-status-valid", pending), Verdict.FAIL, "valid")


def test_has_orders_url(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.has-orders-url"), Verdict.PASS)
    no_orders = edit_json(ACCOUNT, lambda b: {k: v for k, v in b.items() if k != "orders"})
    assert_verdict(run_check("account.has-orders-url", no_orders), Verdict.FAIL, "orders")


def test_orders_list_object(run_check: CheckRunner) -> None:
    result = run_check("account.orders-list-object")
    assert_verdict(result, Verdict.PASS)
    # Pebble 2.4.0 calls the order "deactivated" (no RFC order status), so the SHOULD NOT part is not judged.
    assert any("'deactivated'" in note for note in result.notes), result.notes
    bare = edit_json(ORDERS, lambda b: b.get("orders"))  # step-ca's bare array (smallstep/certificates#2629)
    assert_verdict(run_check("account.orders-list-object", bare), Verdict.FAIL, "array of URLs")
    empty = edit_json(ORDERS, lambda b: {"orders": []})
    assert_verdict(run_check("account.orders-list-object", empty), Verdict.WARN, "pending")

    # An invalid order listed: keep whatever Pebble lists and add every order URL the account made.
    seen: list[str] = []

    def remember(request, response):  # type: ignore[no-untyped-def]
        if "/order-plz" in request.url.path and response.headers.get("Location"):
            seen.append(response.headers["Location"])
        return response

    invalid = edit_json(both(ORDER, post_as_get), lambda b: {**b, "status": "invalid"} if b.get("status") == "deactivated" else b)
    listed_all = chain(remember, invalid,
                       edit_json(ORDERS, lambda b: {"orders": list(dict.fromkeys(b["orders"] + seen))}))
    assert_verdict(run_check("account.orders-list-object", listed_all), Verdict.WARN, "invalid order")


def test_new_account_ignores_orders(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.new-account-ignores-orders"), Verdict.PASS)
    took = edit_json(both(NEW_ACCOUNT, has_member("orders")), lambda b: {**b, "orders": BOGUS_ORDERS})
    assert_verdict(run_check("account.new-account-ignores-orders", took), Verdict.FAIL, "orders URL")
    refused = problem(both(NEW_ACCOUNT, has_member("orders")), 400, "malformed")
    assert_verdict(run_check("account.new-account-ignores-orders", refused), Verdict.FAIL, "refused")


def test_unknown_fields_not_reflected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.unknown-fields-not-reflected"), Verdict.PASS)
    echo = edit_json(NEW_ACCOUNT, lambda b: {**b, "x-acme-conformance": "v"})
    assert_verdict(run_check("account.unknown-fields-not-reflected", echo), Verdict.FAIL, "x-acme-conformance")
    later = edit_json(both(ACCOUNT, post_as_get), lambda b: {**b, "onlyReturnExisting": False})
    assert_verdict(run_check("account.unknown-fields-not-reflected", later), Verdict.FAIL, "onlyReturnExisting")


def test_mailto_contact_supported(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.mailto-contact-supported"), Verdict.PASS)
    scheme = problem(NEW_ACCOUNT, 400, "unsupportedContact")
    assert_verdict(run_check("account.mailto-contact-supported", scheme), Verdict.FAIL, "unsupported")
    policy = problem(NEW_ACCOUNT, 400, "invalidContact")
    assert_verdict(run_check("account.mailto-contact-supported", policy), Verdict.INFO, "policy")


def test_unsupported_contact_scheme(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.unsupported-contact-scheme"), Verdict.PASS)
    # Boulder before PR #6877 answered malformed/invalidEmail.
    wrong = retype(NEW_ACCOUNT, "unsupportedContact", "malformed")
    assert_verdict(run_check("account.unsupported-contact-scheme", wrong), Verdict.FAIL, "unsupportedContact")


def test_invalid_mailto_contact(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.invalid-mailto-contact"), Verdict.PASS)
    wrong = retype(NEW_ACCOUNT, "invalidContact", "malformed")
    assert_verdict(run_check("account.invalid-mailto-contact", wrong), Verdict.FAIL, "invalidContact")


def test_mailto_hfields_rejected(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 accepts "mailto:a@b?subject=x" (baselines/pebble/s07_3_accounts.toml).
    assert_verdict(run_check("account.mailto-hfields-rejected"), Verdict.WARN, "subject")
    repaired = problem(both(NEW_ACCOUNT, _contact_has("?")), 400, "invalidContact")
    assert_verdict(run_check("account.mailto-hfields-rejected", repaired), Verdict.PASS)
    wrong_type = chain(repaired, retype(NEW_ACCOUNT, "invalidContact", "malformed"))
    assert_verdict(run_check("account.mailto-hfields-rejected", wrong_type), Verdict.WARN, "wrong type")


def test_terms_agreement_required(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.terms-agreement-required"), Verdict.PASS)
    not_agreed = payload_is(lambda p: p.get("termsOfServiceAgreed") is not True)
    lax = replace_with(both(NEW_ACCOUNT, not_agreed), 201, {"status": "valid"},
                       headers={"Location": "https://127.0.0.1/my-account/x"})
    assert_verdict(run_check("account.terms-agreement-required", lax), Verdict.INFO, "not required")
    # Agreement demanded while the directory advertises no terms.
    hidden = edit_json(lambda r: r.url.path == "/dir", lambda b: {**b, "meta": {}})
    assert_verdict(run_check("account.terms-agreement-required", hidden), Verdict.FAIL, "does not advertise")
    assert_verdict(run_check("account.terms-agreement-required", chain(hidden, lax)), Verdict.SKIP)


def test_existing_key_returns_200(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.existing-key-returns-200"), Verdict.PASS)
    assert_verdict(run_check("account.existing-key-returns-200", set_status(NEW_ACCOUNT, 201)), Verdict.FAIL,
                   "HTTP 200")
    moved = after(NEW_ACCOUNT, set_header(NEW_ACCOUNT, "Location", "https://127.0.0.1/my-account/elsewhere"))
    assert_verdict(run_check("account.existing-key-returns-200", moved), Verdict.FAIL, "Location")


def test_existing_key_ignores_fields(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.existing-key-ignores-fields"), Verdict.PASS)
    # The response shows the request's contact instead of the account as it was.
    shows_request = edit_json(both(NEW_ACCOUNT, _contact_has("second")),
                              lambda b: {**b, "contact": ["mailto:second@x.example"]})
    assert_verdict(run_check("account.existing-key-ignores-fields", shows_request), Verdict.FAIL, "before")
    empty = edit_json(both(NEW_ACCOUNT, _contact_has("second")), lambda b: {})  # boulder#3801 / pebble#92
    assert_verdict(run_check("account.existing-key-ignores-fields", empty), Verdict.FAIL)


def test_one_account_per_key(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.one-account-per-key"), Verdict.PASS)
    second = set_header(both(NEW_ACCOUNT, _contact_has("repeat2")), "Location", "https://127.0.0.1/my-account/2nd")
    assert_verdict(run_check("account.one-account-per-key", second), Verdict.FAIL, "2nd")


def test_only_return_existing_unknown_key(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.only-return-existing-unknown-key"), Verdict.PASS)
    ore = both(NEW_ACCOUNT, has_member("onlyReturnExisting"))
    not_found = problem(ore, 404, "accountDoesNotExist")  # step-ca, smallstep/certificates#173
    assert_verdict(run_check("account.only-return-existing-unknown-key", not_found), Verdict.FAIL, "HTTP 400")
    created = replace_with(ore, 201, {"status": "valid"}, headers={"Location": "https://127.0.0.1/my-account/x"})
    assert_verdict(run_check("account.only-return-existing-unknown-key", created), Verdict.FAIL, "accountDoesNotExist")


def test_only_return_existing_found(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.only-return-existing-found"), Verdict.PASS)
    ore = both(NEW_ACCOUNT, has_member("onlyReturnExisting"))
    empty = edit_json(ore, lambda b: {})  # acme2certifier#109
    assert_verdict(run_check("account.only-return-existing-found", empty), Verdict.FAIL, "account object")
    assert_verdict(run_check("account.only-return-existing-found", set_header(ore, "Location", None)), Verdict.FAIL,
                   "Location")


def test_contact_reflected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("account.contact-reflected"), Verdict.PASS)
    dropped = edit_json(both(ACCOUNT, post_as_get), lambda b: {k: v for k, v in b.items() if k != "contact"})
    assert_verdict(run_check("account.contact-reflected", dropped), Verdict.INFO, "contact")


def test_create_returns_201_without_accepted_contact(run_check: CheckRunner) -> None:
    """A server refusing our contact address by policy is still judged on account creation."""
    refused = problem(both(NEW_ACCOUNT, has_member("contact")), 400, "invalidContact")
    result = run_check("account.create-returns-201", refused)
    assert_verdict(result, Verdict.PASS)
    assert any("retried without a contact" in note for note in result.notes)
