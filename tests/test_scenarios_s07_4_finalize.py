"""Fail/pass proofs for the finalize checks (scenarios/s07_4_finalize.py)."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults import edit_json, replace_with, set_status
from faults_orders import FINALIZE, ORDER, after, edit_body, issue_as_requested, nth, problem

from conformance.model import Verdict

ACCEPT_FINALIZE = replace_with(FINALIZE, 200, {"status": "processing"})
BADCSR = replace_with(FINALIZE, 400, problem(400, "badCSR"))


def _as_badcsr(body, _request):  # type: ignore[no-untyped-def]
    return {**body, "type": "urn:ietf:params:acme:error:badCSR", "status": 400} if "type" in body else body


def test_pending_order_not_ready(run_check: CheckRunner) -> None:
    assert_verdict(run_check("finalize.pending-order-not-ready"), Verdict.PASS)
    assert_verdict(run_check("finalize.pending-order-not-ready", set_status(FINALIZE, 400)), Verdict.FAIL, "HTTP 403")
    moved = after(FINALIZE, edit_json(ORDER, lambda b: {**b, "status": "invalid"}))
    assert_verdict(run_check("finalize.pending-order-not-ready", moved), Verdict.FAIL, "changed")


def test_valid_and_invalid_order_not_ready(run_check: CheckRunner) -> None:
    assert_verdict(run_check("finalize.valid-order-not-ready"), Verdict.PASS)
    second = nth(FINALIZE, 2, replace_with(FINALIZE, 400, problem(400, "malformed")))
    assert_verdict(run_check("finalize.valid-order-not-ready", second), Verdict.FAIL, "orderNotReady")
    assert_verdict(run_check("finalize.invalid-order-not-ready"), Verdict.PASS)
    assert_verdict(run_check("finalize.invalid-order-not-ready", ACCEPT_FINALIZE), Verdict.FAIL, "orderNotReady")


@pytest.mark.parametrize("check_id", ["finalize.csr-extra-name-badcsr", "finalize.csr-missing-name-badcsr"])
def test_name_mismatch_badcsr(run_check: CheckRunner, check_id: str) -> None:
    # Pebble 2.4.0 answers 403 unauthorized: a recorded SHOULD deviation.
    assert_verdict(run_check(check_id), Verdict.WARN, "unauthorized")
    assert_verdict(run_check(check_id, edit_body(FINALIZE, _as_badcsr)), Verdict.PASS)
    assert_verdict(run_check(check_id, ACCEPT_FINALIZE), Verdict.WARN, "not rejected")


def test_extra_name_in_cn(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 accepts the CSR and ignores its commonName: a recorded deviation.
    assert_verdict(run_check("finalize.csr-extra-name-in-cn-rejected"), Verdict.WARN, "commonName")
    assert_verdict(run_check("finalize.csr-extra-name-in-cn-rejected", BADCSR), Verdict.PASS)


def test_ready_after_rejected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("finalize.order-ready-after-rejected-csr"), Verdict.PASS)
    spoiled = after(FINALIZE, edit_json(ORDER, lambda b: {**b, "status": "invalid"}))
    assert_verdict(run_check("finalize.order-ready-after-rejected-csr", spoiled), Verdict.WARN, "left ready")
    # A server that accepts the CSR cannot be judged here (the badCSR checks judge it).
    assert_verdict(run_check("finalize.order-ready-after-rejected-csr", ACCEPT_FINALIZE), Verdict.ERROR)


def test_account_key_rejected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("finalize.csr-account-key-rejected"), Verdict.PASS)
    assert_verdict(run_check("finalize.csr-account-key-rejected", ACCEPT_FINALIZE), Verdict.FAIL, "not rejected")


def test_bad_signature(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 issues for a CSR whose signature does not verify: a recorded deviation.
    assert_verdict(run_check("finalize.csr-bad-signature-rejected"), Verdict.WARN, "broken signature")
    assert_verdict(run_check("finalize.csr-bad-signature-rejected", BADCSR), Verdict.PASS)


def test_weak_rsa_key(run_check: CheckRunner) -> None:
    # Key strength is CA policy: acceptance is information, refusal passes, a non-4xx error fails softly.
    assert_verdict(run_check("finalize.csr-weak-rsa-key"), Verdict.INFO, "1024-bit")
    assert_verdict(run_check("finalize.csr-weak-rsa-key", BADCSR), Verdict.PASS)
    assert_verdict(run_check("finalize.csr-weak-rsa-key", set_status(FINALIZE, 500)), Verdict.WARN, "not rejected")


def test_sha1_signature(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 does not look at the CSR signature at all: SHA-1 is accepted (policy: information).
    assert_verdict(run_check("finalize.csr-sha1-signature"), Verdict.INFO, "SHA-1")
    assert_verdict(run_check("finalize.csr-sha1-signature", BADCSR), Verdict.PASS)
    assert_verdict(run_check("finalize.csr-sha1-signature", set_status(FINALIZE, 500)), Verdict.WARN, "not rejected")


@pytest.mark.parametrize(("variant", "failure"), [("pem", Verdict.FAIL), ("standard-base64", Verdict.FAIL),
                                                  ("padded", Verdict.FAIL), ("missing", Verdict.FAIL),
                                                  ("not-string", Verdict.FAIL)])
def test_csr_encodings(run_check: CheckRunner, variant: str, failure: Verdict) -> None:
    check_id = f"finalize.csr-encoding-{variant}-rejected"
    result = run_check(check_id)
    assert_verdict(result, Verdict.PASS)
    assert_verdict(run_check(check_id, ACCEPT_FINALIZE), failure, "not rejected")


def test_cn_only_csr(run_check: CheckRunner) -> None:
    # Pebble wants the names in subjectAltName: allowed policy, information.
    assert_verdict(run_check("finalize.cn-only-csr"), Verdict.INFO, "subjectAltName")
    assert_verdict(run_check("finalize.cn-only-csr", issue_as_requested()), Verdict.PASS)
    assert_verdict(run_check("finalize.cn-only-csr", issue_as_requested(["bonus.example"])), Verdict.FAIL,
                   "bonus.example")


def test_ca_extension(run_check: CheckRunner) -> None:
    assert_verdict(run_check("finalize.csr-ca-extension-not-honoured"), Verdict.PASS)
    assert_verdict(run_check("finalize.csr-ca-extension-not-honoured", issue_as_requested(honour_ca=True)),
                   Verdict.WARN, "cA=TRUE")
    assert_verdict(run_check("finalize.csr-ca-extension-not-honoured", BADCSR), Verdict.PASS)


def test_success_returns_order(run_check: CheckRunner) -> None:
    assert_verdict(run_check("finalize.success-returns-order"), Verdict.PASS)
    stuck = edit_json(FINALIZE, lambda b: {**b, "status": "ready"})
    assert_verdict(run_check("finalize.success-returns-order", stuck), Verdict.WARN, "processing or valid")
    assert_verdict(run_check("finalize.success-returns-order", set_status(FINALIZE, 201)), Verdict.WARN, "HTTP 200")
    no_cert = edit_json(FINALIZE, lambda b: {k: v for k, v in {**b, "status": "valid"}.items() if k != "certificate"})
    assert_verdict(run_check("finalize.success-returns-order", no_cert), Verdict.WARN, "certificate")


def test_becomes_valid(run_check: CheckRunner) -> None:
    assert_verdict(run_check("finalize.order-becomes-valid-with-certificate"), Verdict.PASS)
    died = after(FINALIZE, edit_json(ORDER, lambda b: {**b, "status": "invalid"}))
    assert_verdict(run_check("finalize.order-becomes-valid-with-certificate", died), Verdict.WARN, "valid")
    early = edit_json(FINALIZE, lambda b: {**b, "status": "processing", "certificate": "https://x.invalid/c"})
    assert_verdict(run_check("finalize.order-becomes-valid-with-certificate", early), Verdict.WARN, "already has")
