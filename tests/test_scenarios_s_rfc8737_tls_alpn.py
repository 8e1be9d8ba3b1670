"""Fail/pass proofs for the tls-alpn-01 checks (scenarios/s_rfc8737_tls_alpn.py), and for the responder
features they rely on (the offered-ALPN parser and the after-handshake watch)."""

from __future__ import annotations

import socket
import ssl
import time

import pytest
from conftest import CheckRunner, assert_verdict
from faults_challenges import flip, on

from conformance.model import Verdict
from conformance.responders.base import Identifier
from conformance.responders.tlsalpn01 import TlsAlpnResponder, client_hello_alpn, make_tlsalpn01_certificate

PASSING = ["tlsalpn.client-hello", "tlsalpn.non-critical-extension-fails", "tlsalpn.bad-extension-fails",
           "tlsalpn.san-case-insensitive", "tlsalpn.no-alpn-fails", "tlsalpn.no-application-data"]


@pytest.mark.parametrize("check_id", PASSING)
def test_passes_on_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


@pytest.mark.parametrize(
    ("check_id", "hook", "verdict"),
    [
        ("tlsalpn.client-hello", flip("valid", "invalid"), Verdict.FAIL),
        ("tlsalpn.non-critical-extension-fails", flip("invalid", "valid"), Verdict.WARN),
        ("tlsalpn.bad-extension-fails", flip("invalid", "valid"), Verdict.WARN),
        ("tlsalpn.no-alpn-fails", flip("invalid", "valid"), Verdict.WARN),
        ("tlsalpn.san-case-insensitive", flip("valid", "invalid"), Verdict.FAIL),
        ("tlsalpn.no-application-data", flip("valid", "invalid"), Verdict.FAIL),
    ],
)
def test_fails_on_fault(run_check: CheckRunner, check_id: str, hook, verdict: Verdict) -> None:  # type: ignore[no-untyped-def]
    assert_verdict(run_check(check_id, hook), verdict)


def test_client_hello_for_another_name_fails(run_check: CheckRunner) -> None:
    hook = on("/authZ/", lambda r, b: b["identifier"].__setitem__("value", "no-handshake.example")
              if b.get("status") == "valid" else None)
    assert_verdict(run_check("tlsalpn.client-hello", hook), Verdict.FAIL, "SNI")


def test_extra_ip_san_is_a_pebble_deviation(run_check: CheckRunner) -> None:
    """Pebble 2.4.0 accepts a challenge certificate with an extra iPAddress SAN (baseline)."""
    assert_verdict(run_check("tlsalpn.extra-san-fails"), Verdict.WARN, "iPAddress")
    assert_verdict(run_check("tlsalpn.extra-san-fails", flip("valid", "invalid")), Verdict.PASS)


def _handshake(port: int, sni: str, alpn: list[str], send: bytes | None) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(alpn)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=sni) as tls:
            if send is not None:
                tls.sendall(send)


def test_responder_sees_offered_alpn_and_what_follows() -> None:
    """The two observations the checks judge, made against a client we control."""
    from cryptography.hazmat.primitives.asymmetric import ec

    with TlsAlpnResponder() as responder:
        ident = Identifier("dns", "watch.example")
        cert = make_tlsalpn01_certificate(ident, "t.k", responder.challenge_key)
        responder.install("watch.example", cert, watch_after=1.0)
        _handshake(responder.port, "watch.example", ["http/1.1", "acme-tls/1"], b"GET / HTTP/1.1\r\n\r\n")
        _handshake(responder.port, "watch.example", ["acme-tls/1"], None)
        for _ in range(200):  # the responder records a handshake when it is done watching it
            if len(responder.handshakes()) == 2:
                break
            time.sleep(0.01)
        first, second = responder.handshakes()
        assert first.offered_alpn == ("http/1.1", "acme-tls/1") and first.after == "data"
        assert second.offered_alpn == ("acme-tls/1",) and second.after == "closed"
        assert isinstance(responder.challenge_key, ec.EllipticCurvePrivateKey)
    assert client_hello_alpn(b"\x16\x03\x01\x00\x00") is None
