"""Fail/pass proofs for the ARI checks (scenarios/s_rfc9773_ari.py).

Pebble 2.4.0 advertises no renewalInfo: the checks SKIP there; FakeAri plays RFC 9773 in front of it."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from cryptography import x509
from faults_challenges import FakeAri, ari_serial

from conformance.model import Verdict
from scenarios.s_rfc9773_ari import ari_cert_id

IDS = ["ari.directory-url", "ari.renewal-info-object", "ari.window-end-after-start", "ari.retry-after",
       "ari.malformed-id-refused", "ari.replaces-reflected", "ari.already-replaced",
       "ari.replaces-other-account-refused"]


@pytest.mark.parametrize("check_id", IDS)
def test_skips_on_plain_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.SKIP, "renewalInfo")


@pytest.mark.parametrize("check_id", IDS)
def test_passes_with_ari(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id, FakeAri()), Verdict.PASS)


@pytest.mark.parametrize(
    ("check_id", "breaks", "verdict"),
    [
        ("ari.directory-url", "http-url", Verdict.FAIL),
        ("ari.renewal-info-object", "no-window", Verdict.FAIL),
        ("ari.window-end-after-start", "end-before-start", Verdict.FAIL),
        ("ari.retry-after", "no-retry-after", Verdict.WARN),
        ("ari.malformed-id-refused", "malformed-200", Verdict.WARN),
        ("ari.replaces-reflected", "forget-later", Verdict.FAIL),
        ("ari.replaces-reflected", "no-echo", Verdict.FAIL),
        ("ari.already-replaced", "replace-twice", Verdict.FAIL),
        ("ari.replaces-other-account-refused", "any-account", Verdict.WARN),
    ],
)
def test_fails_on_broken_ari(run_check: CheckRunner, check_id: str, breaks: str, verdict: Verdict) -> None:
    assert_verdict(run_check(check_id, FakeAri(breaks)), verdict)


def test_cert_id_follows_the_rfc_example() -> None:
    """RFC 9773 §4.1: serial 0x0087654321 -> AIdlQyE (leading zero kept), no padding anywhere."""
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    now = datetime.datetime.now(datetime.UTC)
    aki = bytes(range(20))
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(0x87654321).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
            .sign(key, hashes.SHA256()))
    cert_id = ari_cert_id(cert)
    assert cert_id.endswith(".AIdlQyE") and "=" not in cert_id
    assert ari_serial(cert_id) == 0x87654321
