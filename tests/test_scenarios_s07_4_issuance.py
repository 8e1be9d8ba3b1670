"""Fail/pass proofs for the end-to-end issuance checks (scenarios/s07_4_issuance.py)."""

from __future__ import annotations

import datetime

import pytest
from conftest import CheckRunner, assert_verdict
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faults import path_contains, rebuild

from conformance.model import Verdict

CHALLENGE_TYPES = ["http-01", "dns-01", "tls-alpn-01"]


def _foreign_pem(names: list[str], ca: bool = False) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not yours")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _swap_leaf(request, response):  # type: ignore[no-untyped-def]
    """The certificate download answers someone else's certificate (wrong key and names)."""
    if path_contains("/certZ/", "POST")(request):
        return rebuild(response, content=_foreign_pem(["other.example.net"]))
    return response


@pytest.mark.parametrize("challenge_type", CHALLENGE_TYPES)
def test_issuance_passes_on_pebble(run_check: CheckRunner, challenge_type: str) -> None:
    result = run_check(f"issuance.{challenge_type}")
    assert_verdict(result, Verdict.PASS)
    # The evidence shows the whole flow, ending in the certificate download.
    urls = [e.url for e in result.exchanges]
    assert any("/certZ/" in url for url in urls) and any("/chalZ/" in url for url in urls)


@pytest.mark.parametrize("challenge_type", CHALLENGE_TYPES)
def test_issuance_fails_on_foreign_certificate(run_check: CheckRunner, challenge_type: str) -> None:
    assert_verdict(run_check(f"issuance.{challenge_type}", _swap_leaf), Verdict.FAIL, "public key")


def test_issuance_fails_on_ca_certificate_first(run_check: CheckRunner) -> None:
    """Same key and names as asked, but the first certificate is a CA: §9.1 wants the end-entity first."""
    def prepend_ca(request, response):  # type: ignore[no-untyped-def]
        if path_contains("/certZ/", "POST")(request):
            return rebuild(response, content=_foreign_pem(["ca.example.net"], ca=True) + response.content)
        return response

    assert_verdict(run_check("issuance.http-01", prepend_ca), Verdict.FAIL)


def test_validation_really_reaches_our_responder(run_check: CheckRunner, harness) -> None:  # type: ignore[no-untyped-def]
    before = len(harness.backend.http.requests())
    assert_verdict(run_check("issuance.http-01"), Verdict.PASS)
    seen = harness.backend.http.requests()[before:]
    assert any(r.path.startswith("/.well-known/acme-challenge/") and r.status == 200 for r in seen)
