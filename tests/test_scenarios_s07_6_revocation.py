"""Fail/pass proofs for the revocation checks (scenarios/s07_6_revocation.py)."""

from __future__ import annotations

import itertools

import pytest
from conftest import CheckRunner, assert_verdict
from faults import jws_header, jws_payload, path_contains, replace_with
from faults_challenges import kid_of, payload_is, problem, replace_when, with_json

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


# -- the extended revocation checks ----------------------------------------------------------------

def _revoke_with(match, status: int = 200):  # type: ignore[no-untyped-def]
    """Answer matching revokeCert requests with ``status`` (200: an empty success) instead of Pebble's answer."""
    def make(request, response):  # type: ignore[no-untyped-def]
        if status == 200:
            return with_json(response, {}, 200)
        return problem(response, status, "unauthorized")

    return replace_when(lambda r: "/revoke-cert" in r.url.path and match(r), make)


def _nth_revocation(n: int):  # type: ignore[no-untyped-def]
    counter = itertools.count(1)
    return lambda request: next(counter) == n


class _DeactivatedAccounts:
    """Repairs Pebble: revocation by a deactivated account is answered 401 unauthorized."""

    def __init__(self) -> None:
        self.gone: set[str] = set()

    def __call__(self, request, response):  # type: ignore[no-untyped-def]
        if "/my-account/" in request.url.path and payload_is(request, {"status": "deactivated"}):
            self.gone.add(str(request.url))
        elif "/revoke-cert" in request.url.path and kid_of(request) in self.gone:
            return problem(response, 401, "unauthorized")
        return response


@pytest.mark.parametrize("check_id", ["revocation.reason-codes", "revocation.unrelated-account-refused",
                                      "revocation.already-revoked", "revocation.unknown-certificate",
                                      "revocation.wrong-jwk-refused"])
def test_extended_revocation_passes(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


@pytest.mark.parametrize(
    ("check_id", "hook", "verdict"),
    [
        ("revocation.reason-codes", _revoke_with(lambda r: (jws_payload_reason(r) == 7)), Verdict.FAIL),
        ("revocation.reason-codes", replace_when(
            lambda r: "/revoke-cert" in r.url.path and jws_payload_reason(r) == 3,
            lambda q, s: problem(s, 400, "malformed")), Verdict.FAIL),
        ("revocation.unrelated-account-refused", _revoke_with(_nth_revocation(1)), Verdict.FAIL),
        ("revocation.already-revoked", _revoke_with(_nth_revocation(2)), Verdict.WARN),
        ("revocation.unknown-certificate", _revoke_with(lambda r: True), Verdict.WARN),
        ("revocation.wrong-jwk-refused", _revoke_with(lambda r: "jwk" in (jws_header(r) or {})), Verdict.FAIL),
    ],
)
def test_extended_revocation_fails(run_check: CheckRunner, check_id: str, hook, verdict: Verdict) -> None:  # type: ignore[no-untyped-def]
    assert_verdict(run_check(check_id, hook), verdict)


def jws_payload_reason(request):  # type: ignore[no-untyped-def]
    payload = jws_payload(request)
    return payload.get("reason") if isinstance(payload, dict) else None


def test_revocation_by_authorized_account_is_a_pebble_deviation(run_check: CheckRunner) -> None:
    """Pebble 2.4.0 refuses (403) an account that holds authorizations for all names (baseline; its README says
    so); answered 200, the check passes."""
    assert_verdict(run_check("revocation.by-authorized-account"), Verdict.FAIL, "HTTP 403")
    repaired = replace_when(lambda r: "/revoke-cert" in r.url.path, lambda q, s: with_json(s, {}, 200)
                            if s.status_code == 403 else s)
    assert_verdict(run_check("revocation.by-authorized-account", repaired), Verdict.PASS)


def test_revocation_by_deactivated_account_is_a_pebble_deviation(run_check: CheckRunner) -> None:
    """Pebble 2.4.0 still accepts revokeCert from a deactivated account (baseline); repaired, it passes."""
    assert_verdict(run_check("revocation.deactivated-account-refused"), Verdict.FAIL, "HTTP 200")
    assert_verdict(run_check("revocation.deactivated-account-refused", _DeactivatedAccounts()), Verdict.PASS)
