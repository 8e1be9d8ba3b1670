"""Fail/pass proofs for the problem-document checks (scenarios/s06_7_errors.py)."""

from __future__ import annotations

import json

import httpx
from conftest import CheckRunner, assert_verdict
from faults import edit_json, path_contains, rebuild, set_status

from conformance.model import Verdict

ORDER = "/order-plz"


def _on_order_errors(edit):  # type: ignore[no-untyped-def]
    """Rewrite the JSON of newOrder error responses (the sample has several)."""
    return edit_json(lambda r: r.method == "POST" and ORDER in r.url.path, lambda b: edit(b) if "type" in b else b)


def test_problem_document(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 answers POST-as-GET of an unknown order URL with an empty 404 (baseline: WARN).
    assert_verdict(run_check("errors.problem-document"), Verdict.WARN, "does not exist")

    def repaired(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if response.status_code == 404 and not response.content:
            body = {"type": "urn:ietf:params:acme:error:malformed", "detail": "no such order", "status": 404}
            return rebuild(response, content=json.dumps(body).encode(),
                           headers={"Content-Type": "application/problem+json"})
        return response

    assert_verdict(run_check("errors.problem-document", repaired), Verdict.PASS)

    def html(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        response = repaired(request, response)
        if response.status_code == 415:
            return rebuild(response, content=b"<html>Unsupported</html>", headers={"Content-Type": "text/html"})
        return response

    assert_verdict(run_check("errors.problem-document", html), Verdict.WARN, "text/html")


def test_type_is_acme_urn(run_check: CheckRunner) -> None:
    assert_verdict(run_check("errors.type-is-acme-urn"), Verdict.PASS)
    bare = _on_order_errors(lambda b: {**b, "type": b["type"].rsplit(":", 1)[-1]})
    assert_verdict(run_check("errors.type-is-acme-urn", bare), Verdict.WARN, "bare token")
    draft = _on_order_errors(lambda b: {**b, "type": "urn:acme:error:malformed"})
    assert_verdict(run_check("errors.type-is-acme-urn", draft), Verdict.WARN, "draft-era")
    missing = _on_order_errors(lambda b: {k: v for k, v in b.items() if k != "type"} | {"message": "oops"})
    assert_verdict(run_check("errors.type-is-acme-urn", missing), Verdict.WARN, "no type")


def test_registered_types(run_check: CheckRunner) -> None:
    assert_verdict(run_check("errors.registered-types"), Verdict.PASS)
    old = _on_order_errors(lambda b: {**b, "type": "urn:ietf:params:acme:error:malformedRequest"})
    assert_verdict(run_check("errors.registered-types", old), Verdict.FAIL, "malformedRequest")
    # A type outside the ACME namespace is allowed (§6.7 MAY).
    foreign = _on_order_errors(lambda b: {**b, "type": "https://ca.example/problems/custom"})
    assert_verdict(run_check("errors.registered-types", foreign), Verdict.PASS)


def test_status_member_matches(run_check: CheckRunner) -> None:
    assert_verdict(run_check("errors.status-member-matches"), Verdict.PASS)
    wrong = _on_order_errors(lambda b: {**b, "status": 500})
    assert_verdict(run_check("errors.status-member-matches", wrong), Verdict.FAIL, "status member 500")
    as_string = _on_order_errors(lambda b: {**b, "status": str(b.get("status"))})
    assert_verdict(run_check("errors.status-member-matches", as_string), Verdict.FAIL, "status member")


def test_member_types(run_check: CheckRunner) -> None:
    assert_verdict(run_check("errors.member-types"), Verdict.PASS)
    numeric = _on_order_errors(lambda b: {**b, "detail": {"text": b.get("detail")}})
    assert_verdict(run_check("errors.member-types", numeric), Verdict.WARN, "detail is dict")


def test_subproblems_structure(run_check: CheckRunner) -> None:
    result = run_check("errors.subproblems-structure")
    assert_verdict(result, Verdict.PASS)
    good = {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "x",
            "identifier": {"type": "dns", "value": "localhost"}}
    with_good = _on_order_errors(lambda b: {**b, "type": "urn:ietf:params:acme:error:compound", "subproblems": [good]})
    assert_verdict(run_check("errors.subproblems-structure", with_good), Verdict.PASS)
    bare_identifier = {**good, "identifier": "localhost"}
    with_bad = _on_order_errors(lambda b: {**b, "subproblems": [good, bare_identifier]})
    assert_verdict(run_check("errors.subproblems-structure", with_bad), Verdict.FAIL, "subproblem 1")
    not_array = _on_order_errors(lambda b: {**b, "subproblems": good})
    assert_verdict(run_check("errors.subproblems-structure", not_array), Verdict.FAIL, "not an array")


def test_no_top_level_identifier(run_check: CheckRunner) -> None:
    assert_verdict(run_check("errors.no-top-level-identifier"), Verdict.PASS)
    top = _on_order_errors(lambda b: {**b, "identifier": {"type": "dns", "value": "localhost"}})
    assert_verdict(run_check("errors.no-top-level-identifier", top), Verdict.FAIL, "top-level identifier")


def test_unsupported_method_405(run_check: CheckRunner) -> None:
    assert_verdict(run_check("errors.unsupported-method-405"), Verdict.PASS)
    not_found = set_status(path_contains(ORDER, "DELETE"), 404)
    assert_verdict(run_check("errors.unsupported-method-405", not_found), Verdict.INFO, "DELETE newOrder")
