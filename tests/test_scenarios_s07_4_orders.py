"""Fail/pass proofs for the order checks (scenarios/s07_4_orders.py)."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults import chain, edit_json, path_contains, rebuild, replace_with, set_header, set_status
from faults_orders import (
    CERT,
    NEW_ORDER,
    ORDER,
    capture_new_orders,
    edit_body,
    json_response,
    nth,
    problem,
    self_signed_pem,
)

from conformance.model import Verdict

AUTHZ = path_contains("/authZ/", "POST")
LIST = path_contains("/list-orderz/", "POST")
ACCEPT_ORDER = replace_with(NEW_ORDER, 201, {"status": "pending", "identifiers": [], "authorizations": [],
                                             "finalize": "https://x.invalid/f"},
                            headers={"Location": "https://x.invalid/order"})
REJECT_ORDER = replace_with(NEW_ORDER, 400, problem(400, "rejectedIdentifier"))


def test_new_order_created(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.new-order-created"), Verdict.PASS)
    assert_verdict(run_check("order.new-order-created", set_header(NEW_ORDER, "Location", None)), Verdict.WARN,
                   "Location")
    assert_verdict(run_check("order.new-order-created", set_status(NEW_ORDER, 200)), Verdict.WARN, "HTTP 201")


def test_fields_present(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.fields-present"), Verdict.PASS)

    def drop_expires(body):  # type: ignore[no-untyped-def]
        body.pop("expires", None)
        return body

    assert_verdict(run_check("order.fields-present", edit_json(NEW_ORDER, drop_expires)), Verdict.FAIL, "expires")

    def bad_time(body):  # type: ignore[no-untyped-def]
        if body.get("status") == "valid":
            body["expires"] = "tomorrow"
        return body

    assert_verdict(run_check("order.fields-present", edit_json(ORDER, bad_time)), Verdict.FAIL, "RFC 3339")
    # A missing member fails the check (it is what is judged), it does not break the walk.
    no_finalize = edit_json(NEW_ORDER, lambda b: {k: v for k, v in b.items() if k != "finalize"})
    assert_verdict(run_check("order.fields-present", no_finalize), Verdict.FAIL, "finalize")


def test_initial_status(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.initial-status"), Verdict.PASS)
    born_ready = edit_json(NEW_ORDER, lambda b: {**b, "status": "ready"})
    assert_verdict(run_check("order.initial-status", born_ready), Verdict.WARN, "not valid")
    assert_verdict(run_check("order.initial-status", edit_json(NEW_ORDER, lambda b: {**b, "status": "valid"})),
                   Verdict.WARN)


def test_identifiers_as_requested(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.identifiers-as-requested"), Verdict.PASS)
    drop_one = edit_json(NEW_ORDER, lambda b: {**b, "identifiers": b["identifiers"][1:]})
    assert_verdict(run_check("order.identifiers-as-requested", drop_one), Verdict.WARN, "differ")


def test_arrays_immutable(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.arrays-immutable"), Verdict.PASS)

    def grow(body):  # type: ignore[no-untyped-def]
        if body.get("status") == "valid":
            body["authorizations"] = [*body["authorizations"], "https://x.invalid/authz/new"]
        return body

    assert_verdict(run_check("order.arrays-immutable", edit_json(ORDER, grow)), Verdict.FAIL, "authorizations")


def test_authorizations_cover(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.authorizations-cover-identifiers"), Verdict.PASS)

    def rename(body):  # type: ignore[no-untyped-def]
        body["identifier"]["value"] = "elsewhere.example"
        return body

    assert_verdict(run_check("order.authorizations-cover-identifiers", edit_json(AUTHZ, rename)), Verdict.WARN,
                   "uncovered")
    assert_verdict(run_check("order.authorizations-cover-identifiers", replace_with(AUTHZ, 404, problem(404, "malformed"))),
                   Verdict.WARN, "cannot be fetched")


def test_wildcard_authorization(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.wildcard-authorization"), Verdict.PASS)
    no_flag = edit_json(AUTHZ, lambda b: {k: v for k, v in b.items() if k != "wildcard"})
    assert_verdict(run_check("order.wildcard-authorization", no_flag), Verdict.FAIL, "wildcard: true")
    starred = edit_json(AUTHZ, lambda b: {**b, "identifier": {**b["identifier"], "value": "*." + b["identifier"]["value"]}})
    assert_verdict(run_check("order.wildcard-authorization", starred), Verdict.FAIL, "base domain")
    assert_verdict(run_check("order.wildcard-authorization", REJECT_ORDER), Verdict.SKIP)


def test_non_wildcard_authorization(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.non-wildcard-authorization"), Verdict.PASS)
    # The RFC's own §7.1.4 example shows "wildcard": false, but the text says MUST be absent.
    flagged = edit_json(AUTHZ, lambda b: {**b, "wildcard": False})
    assert_verdict(run_check("order.non-wildcard-authorization", flagged), Verdict.FAIL, "wildcard")


def test_unsupported_identifier_type(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.unsupported-identifier-type-rejected"), Verdict.PASS)
    assert_verdict(run_check("order.unsupported-identifier-type-rejected", ACCEPT_ORDER), Verdict.FAIL, "not rejected")
    # Pebble 2.4.0 answers malformed: a real deviation (baselines/pebble/s07_4_orders.toml).
    assert_verdict(run_check("order.unsupported-identifier-type-problem"), Verdict.WARN, "unsupportedIdentifier")
    fixed = edit_json(NEW_ORDER, lambda b: {**b, "type": "urn:ietf:params:acme:error:unsupportedIdentifier"})
    assert_verdict(run_check("order.unsupported-identifier-type-problem", fixed), Verdict.PASS)


@pytest.mark.parametrize("variant", ["illegal-character", "long-name"])
def test_malformed_names_pebble_rejects(run_check: CheckRunner, variant: str) -> None:
    assert_verdict(run_check(f"order.malformed-name.{variant}"), Verdict.PASS)
    assert_verdict(run_check(f"order.malformed-name.{variant}", ACCEPT_ORDER), Verdict.WARN, "HTTP 201")


@pytest.mark.parametrize("variant", ["leading-hyphen", "empty-label", "long-label"])
def test_malformed_names_pebble_accepts(run_check: CheckRunner, variant: str) -> None:
    # Pebble 2.4.0 creates these orders: recorded deviations; a refusing server passes.
    assert_verdict(run_check(f"order.malformed-name.{variant}"), Verdict.WARN, "HTTP 201")
    assert_verdict(run_check(f"order.malformed-name.{variant}", REJECT_ORDER), Verdict.PASS)


def test_invalid_punycode(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.invalid-punycode-rejected"), Verdict.FAIL, "HTTP 201")
    assert_verdict(run_check("order.invalid-punycode-rejected", REJECT_ORDER), Verdict.PASS)


@pytest.mark.parametrize("variant", ["empty", "missing", "not-array"])
def test_bad_identifiers(run_check: CheckRunner, variant: str) -> None:
    assert_verdict(run_check(f"order.identifiers-{variant}-rejected"), Verdict.PASS)
    assert_verdict(run_check(f"order.identifiers-{variant}-rejected", ACCEPT_ORDER), Verdict.WARN, "not rejected")


def test_validity(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.validity-honoured-or-refused"), Verdict.PASS)
    # Refusing the fields is compliant; silently issuing other validity is not.
    assert_verdict(run_check("order.validity-honoured-or-refused", REJECT_ORDER), Verdict.PASS)

    def default_validity(request, response):  # type: ignore[no-untyped-def]
        if CERT(request) and response.status_code == 200:
            return rebuild(response, content=self_signed_pem(["other.example"]))
        return response

    assert_verdict(run_check("order.validity-honoured-or-refused", default_validity), Verdict.FAIL, "validity")


def test_malformed_validity(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 accepts and echoes "not-a-timestamp": a recorded deviation.
    assert_verdict(run_check("order.malformed-validity-rejected"), Verdict.WARN, "not-a-timestamp")
    refused = replace_with(NEW_ORDER, 400, problem(400, "malformed"))
    assert_verdict(run_check("order.malformed-validity-rejected", refused), Verdict.PASS)


def test_certificate_names(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.certificate-names-are-order-identifiers"), Verdict.PASS)

    def one_name_short(request, response):  # type: ignore[no-untyped-def]
        if CERT(request) and response.status_code == 200:
            return rebuild(response, content=self_signed_pem(["only-one.example"]))
        return response

    assert_verdict(run_check("order.certificate-names-are-order-identifiers", one_name_short), Verdict.FAIL,
                   "only-one.example")


def test_error_is_problem(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.error-is-problem-document"), Verdict.PASS)

    def stringly(body):  # type: ignore[no-untyped-def]
        if body.get("status") == "invalid":
            body["error"] = "validation failed"
        return body

    assert_verdict(run_check("order.error-is-problem-document", edit_json(ORDER, stringly)), Verdict.WARN,
                   "problem document")
    no_error = edit_json(ORDER, lambda b: {k: v for k, v in b.items() if k != "error"})
    assert_verdict(run_check("order.error-is-problem-document", no_error), Verdict.SKIP)


def test_reused_authorization(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.reused-authorization-listed"), Verdict.PASS)
    # The second order claims to be ready while listing only its fresh, pending authorization.
    fake_ready = nth(NEW_ORDER, 2, edit_body(NEW_ORDER, lambda b, _r: {**b, "status": "ready"}))
    assert_verdict(run_check("order.reused-authorization-listed", fake_ready), Verdict.WARN, "no valid authorization")


def test_list_structure(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.list-structure"), Verdict.PASS)

    def bare_list(request, response):  # type: ignore[no-untyped-def]
        return json_response(response, 200, []) if LIST(request) else response

    assert_verdict(run_check("order.list-structure", bare_list), Verdict.FAIL, "orders array")
    foreign = edit_json(LIST, lambda b: {"orders": [*b["orders"], b["orders"][0] + "-not-mine"]})
    assert_verdict(run_check("order.list-structure", foreign), Verdict.FAIL, "not an order")


def test_list_pending_and_invalid(run_check: CheckRunner) -> None:
    assert_verdict(run_check("order.list-includes-pending"), Verdict.PASS)
    assert_verdict(run_check("order.list-includes-pending", edit_json(LIST, lambda b: {"orders": []})), Verdict.WARN,
                   "missing")
    assert_verdict(run_check("order.list-excludes-invalid"), Verdict.PASS)
    seen, capture = capture_new_orders()
    add_all = edit_json(LIST, lambda b: {"orders": [*b["orders"], *(o["url"] for o in seen)]})
    assert_verdict(run_check("order.list-excludes-invalid", chain(capture, add_all)), Verdict.WARN, "invalid order")


def test_list_pagination(run_check: CheckRunner) -> None:
    result = run_check("order.list-pagination")
    assert_verdict(result, Verdict.PASS)
    assert any("page(s)" in note and "on 1 page" not in note for note in result.notes)  # Pebble pages by 3
    no_next = set_header(LIST, "Link", None)
    assert_verdict(run_check("order.list-pagination", no_next), Verdict.WARN, "not found")

    def loop(request, response):  # type: ignore[no-untyped-def]
        if LIST(request):
            return rebuild(response, headers={"Link": f'<{request.url}>;rel="next"'})
        return response

    assert_verdict(run_check("order.list-pagination", loop), Verdict.WARN, "loop")
