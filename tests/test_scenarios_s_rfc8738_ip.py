"""Fail/pass proofs for the IP identifier checks (scenarios/s_rfc8738_ip.py)."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults import rebuild
from faults_challenges import flip, on, problem, replace_when
from test_scenarios_s07_4_issuance import _foreign_pem  # a certificate with DNS names only

from conformance.model import Verdict

IDS = ["ip.authz-identifier-form", "ip.no-dns-01", "ip.http-01-to-the-address", "ip.tls-alpn-01-reverse-sni",
       "ip.certificate-ip-san"]


@pytest.mark.parametrize("check_id", IDS)
def test_passes_on_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


def _uncanonical(_request, body):  # type: ignore[no-untyped-def]
    if body["identifier"]["value"] == "2001:db8::1":
        body["identifier"]["value"] = "2001:DB8:0:0::1"


def _offer_dns01(_request, body):  # type: ignore[no-untyped-def]
    body["challenges"].append({"type": "dns-01", "url": "https://x.invalid/c", "token": "A" * 43,
                               "status": "pending"})


def _dns_san_certificate(request, response):  # type: ignore[no-untyped-def]
    if "/certZ/" in request.url.path:
        return rebuild(response, content=_foreign_pem(["ip.example.net"]))
    return response


@pytest.mark.parametrize(
    ("check_id", "hook", "verdict"),
    [
        ("ip.authz-identifier-form", on("/authZ/", _uncanonical), Verdict.FAIL),
        ("ip.authz-identifier-form", on("/authZ/", lambda r, b: b["identifier"].__setitem__("type", "dns")),
         Verdict.FAIL),
        ("ip.no-dns-01", on("/authZ/", _offer_dns01), Verdict.FAIL),
        ("ip.http-01-to-the-address", flip("valid", "invalid"), Verdict.FAIL),
        ("ip.tls-alpn-01-reverse-sni", flip("valid", "invalid"), Verdict.FAIL),
        ("ip.certificate-ip-san", _dns_san_certificate, Verdict.WARN),
    ],
)
def test_fails_on_fault(run_check: CheckRunner, check_id: str, hook, verdict: Verdict) -> None:  # type: ignore[no-untyped-def]
    assert_verdict(run_check(check_id, hook), verdict)


def test_skips_when_ip_identifiers_are_unsupported(run_check: CheckRunner) -> None:
    refuse = replace_when(lambda r: "/order-plz" in r.url.path, lambda q, s: problem(s, 400, "unsupportedIdentifier"))
    assert_verdict(run_check("ip.no-dns-01", refuse), Verdict.SKIP)
    assert_verdict(run_check("ip.no-dns-01", ip_identifiers=False), Verdict.SKIP)
