"""Fail/pass proofs for the revocation checks (scenarios/s07_6_revocation.py)."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults import path_contains, replace_with

from conformance.model import Verdict

REFUSE = replace_with(
    path_contains("/revoke-cert", "POST"), 403,
    {"type": "urn:ietf:params:acme:error:unauthorized", "detail": "no"},
)


@pytest.mark.parametrize("check_id", ["revocation.by-account-key", "revocation.by-certificate-key"])
def test_revocation(run_check: CheckRunner, harness, check_id: str) -> None:  # type: ignore[no-untyped-def]
    result = run_check(check_id)
    assert_verdict(result, Verdict.PASS)
    # Pebble's own view confirms the revocation really happened.
    from cryptography import x509

    download = next(e for e in result.exchanges if "/certZ/" in e.url)
    serial = x509.load_pem_x509_certificates(download.response_body)[0].serial_number
    assert harness.management.cert_status(format(serial, "x"))["Status"] == "Revoked"


@pytest.mark.parametrize("check_id", ["revocation.by-account-key", "revocation.by-certificate-key"])
def test_revocation_refused_fails(run_check: CheckRunner, check_id: str) -> None:
    expected = Verdict.FAIL if check_id.endswith("certificate-key") else Verdict.WARN  # MUST vs descriptive
    assert_verdict(run_check(check_id, REFUSE), expected, "HTTP 403")
