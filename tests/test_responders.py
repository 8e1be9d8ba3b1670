"""Tests for the challenge responders; everything runs on 127.0.0.1."""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
import ssl
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from dnslib import QTYPE, RCODE, DNSRecord

from conformance.netutil import free_port
from conformance.responders import (
    ACME_IDENTIFIER_OID,
    BuiltinResponders,
    ChallTestSrvBackend,
    ChallTestSrvProcess,
    DnsResponder,
    HookBackend,
    HookError,
    Http01Responder,
    Identifier,
    TlsAlpnResponder,
    b64url,
    dns01_txt_value,
    key_authorization,
)

LOOPBACK = "127.0.0.1"
KEYAUTH = key_authorization("tok-123", "thumbprint_abc")
CHALLTESTSRV = "/usr/bin/pebble-challtestsrv"


def _http() -> httpx.Client:
    return httpx.Client(timeout=5, trust_env=False)


def dns_query(port: int, name: str, qtype: str, tcp: bool = False) -> DNSRecord:
    raw = DNSRecord.question(name, qtype).send(LOOPBACK, port, tcp=tcp, timeout=5)
    return DNSRecord.parse(raw)


def answers(reply: DNSRecord) -> list[str]:
    return [str(rr.rdata).strip('"') for rr in reply.rr]


def poll(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def builtin() -> Iterator[BuiltinResponders]:
    with BuiltinResponders() as backend:
        yield backend


# -- helpers -----------------------------------------------------------------------------------


def test_helpers() -> None:
    assert b64url(b"\xff\xfe") == "__4"
    assert KEYAUTH == "tok-123.thumbprint_abc"
    expected = b64url(hashlib.sha256(KEYAUTH.encode()).digest())
    assert dns01_txt_value(KEYAUTH) == expected
    assert "=" not in expected and len(expected) == 43


def test_free_port_udp_too() -> None:
    port = free_port(udp_too=True)
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u,
    ):
        t.bind((LOOPBACK, port))
        u.bind((LOOPBACK, port))


# -- http-01 -----------------------------------------------------------------------------------


def test_http01_serves_token_and_records(builtin: BuiltinResponders) -> None:
    builtin.add_http01("tok-123", KEYAUTH)
    url = f"http://{LOOPBACK}:{builtin.http_port}/.well-known/acme-challenge/"
    with _http() as client:
        ok = client.get(url + "tok-123", headers={"Host": "a.example.com"})
        missing = client.get(url + "nope")
        builtin.remove_http01("tok-123")
        gone = client.get(url + "tok-123")
    assert ok.status_code == 200 and ok.text == KEYAUTH
    assert ok.headers["content-type"] == "application/octet-stream"
    assert missing.status_code == 404 and gone.status_code == 404
    history = builtin.http.requests()
    assert [r.status for r in history] == [200, 404, 404]
    assert history[0].path == "/.well-known/acme-challenge/tok-123"
    assert history[0].host == "a.example.com" and history[0].client[0] == LOOPBACK


def test_http01_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    with Http01Responder() as responder, _http() as client:
        client.get(f"http://{LOOPBACK}:{responder.port}/x")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


# -- dns-01 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_dns_txt_a_aaaa(builtin: BuiltinResponders, tcp: bool) -> None:
    port = builtin.dns_port
    builtin.add_dns01("Example.COM", "value-base")
    builtin.add_dns01("*.example.com", "value-wild")  # wildcard shares the base TXT name
    reply = dns_query(port, "_acme-challenge.example.com.", "TXT", tcp)
    assert sorted(answers(reply)) == ["value-base", "value-wild"]
    assert reply.header.rcode == RCODE.NOERROR and reply.header.aa

    builtin.remove_dns01("example.com", "value-base")
    assert answers(dns_query(port, "_ACME-challenge.Example.com", "TXT", tcp)) == ["value-wild"]
    builtin.remove_dns01("example.com")
    empty = dns_query(port, "_acme-challenge.example.com", "TXT", tcp)
    assert empty.rr == [] and empty.header.rcode == RCODE.NOERROR

    assert answers(dns_query(port, "anything.example.com", "A", tcp)) == ["127.0.0.1"]
    aaaa = dns_query(port, "anything.example.com", "AAAA", tcp)
    assert aaaa.rr == [] and aaaa.header.rcode == RCODE.NOERROR
    caa = dns_query(port, "example.com", "CAA", tcp)
    assert caa.rr == [] and caa.header.rcode == RCODE.NOERROR

    seen = builtin.dns.queries()
    assert seen[0].qname == "_acme-challenge.example.com" and seen[0].qtype == "TXT"
    assert {q.protocol for q in seen} == {"tcp" if tcp else "udp"}


def test_dns_overrides_and_aaaa() -> None:
    with DnsResponder(aaaa_address="::1") as dns:
        dns.set_a("Special.Example.org.", "127.0.0.2")
        assert answers(dns_query(dns.port, "special.example.org", "A")) == ["127.0.0.2"]
        assert answers(dns_query(dns.port, "other.example.org", "A")) == ["127.0.0.1"]
        reply = dns_query(dns.port, "other.example.org", "AAAA")
        assert [QTYPE[rr.rtype] for rr in reply.rr] == ["AAAA"] and answers(reply) == ["::1"]


# -- tls-alpn-01 -------------------------------------------------------------------------------


def tls_handshake(port: int, server_name: str) -> tuple[x509.Certificate, str | None]:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the challenge certificate is self-signed by design
    ctx.set_alpn_protocols(["acme-tls/1"])
    with socket.create_connection((LOOPBACK, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
            alpn = tls.selected_alpn_protocol()
    assert der is not None
    return x509.load_der_x509_certificate(der), alpn


def assert_acme_identifier(cert: x509.Certificate, keyauth: str) -> None:
    ext = cert.extensions.get_extension_for_oid(ACME_IDENTIFIER_OID)
    assert ext.critical
    assert isinstance(ext.value, x509.UnrecognizedExtension)
    assert ext.value.value == b"\x04\x20" + hashlib.sha256(keyauth.encode()).digest()


def test_tlsalpn_dns_identifier(builtin: BuiltinResponders) -> None:
    builtin.add_tlsalpn01(Identifier("dns", "a.example.com"), KEYAUTH)
    cert, alpn = tls_handshake(builtin.tls_port, "a.example.com")
    assert alpn == "acme-tls/1"
    assert_acme_identifier(cert, KEYAUTH)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["a.example.com"]
    # The handler thread records after closing; poll instead of sleeping a fixed time.
    assert poll(lambda: len(builtin.tls.handshakes()) == 1)
    record = builtin.tls.handshakes()[0]
    assert (record.sni, record.alpn, record.error) == ("a.example.com", "acme-tls/1", None)


def test_tlsalpn_ip_identifier_uses_reverse_name() -> None:
    with TlsAlpnResponder() as tls:
        tls.add(Identifier("ip", "127.0.0.1"), KEYAUTH)
        cert, _ = tls_handshake(tls.port, "1.0.0.127.in-addr.arpa")
        assert_acme_identifier(cert, KEYAUTH)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_tlsalpn_unknown_sni_aborts() -> None:
    with TlsAlpnResponder() as tls:
        tls.add(Identifier("dns", "known.example.com"), KEYAUTH)
        with pytest.raises(ssl.SSLError):
            tls_handshake(tls.port, "unknown.example.com")
        tls.remove(Identifier("dns", "known.example.com"))
        with pytest.raises(ssl.SSLError):
            tls_handshake(tls.port, "known.example.com")
        assert poll(lambda: len(tls.handshakes()) == 2)
        assert all(h.error for h in tls.handshakes())


# -- lifecycle ---------------------------------------------------------------------------------


def test_stop_frees_ports_and_is_idempotent() -> None:
    backend = BuiltinResponders()
    backend.start()
    backend.start()
    ports = (backend.http_port, backend.dns_port, backend.tls_port)
    backend.stop()
    backend.stop()
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK, port))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, ports[1]))
    # And the same fixed ports can be served again.
    with BuiltinResponders(http_port=ports[0], dns_port=ports[1], tls_port=ports[2]) as again:
        assert (again.http_port, again.dns_port, again.tls_port) == ports


# -- pebble-challtestsrv -----------------------------------------------------------------------


@pytest.mark.skipif(not os.access(CHALLTESTSRV, os.X_OK), reason="pebble-challtestsrv not installed")
def test_challtestsrv_backend() -> None:
    ports = [free_port(), free_port(udp_too=True), free_port(), free_port()]
    with ChallTestSrvProcess(*ports) as proc, ChallTestSrvBackend(proc.management_url) as backend:
        backend.add_http01("tok-ctsrv", KEYAUTH)
        with _http() as client:
            resp = client.get(f"http://{LOOPBACK}:{proc.http01_port}/.well-known/acme-challenge/tok-ctsrv")
        assert resp.status_code == 200 and resp.text == KEYAUTH

        backend.add_dns01("example.net", "one")
        backend.add_dns01("*.example.net", "two")
        assert sorted(answers(dns_query(proc.dns01_port, "_acme-challenge.example.net", "TXT"))) == [
            "one",
            "two",
        ]
        backend.remove_dns01("example.net", "one")
        assert answers(dns_query(proc.dns01_port, "_acme-challenge.example.net", "TXT", tcp=True)) == ["two"]
        backend.remove_dns01("example.net")
        assert dns_query(proc.dns01_port, "_acme-challenge.example.net", "TXT").rr == []
        backend.remove_http01("tok-ctsrv")


# -- hook --------------------------------------------------------------------------------------


def test_hook_backend(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    script = tmp_path / "hook.sh"
    # One line per call: argv fields, then the ACME_* environment, "|"-separated so empty
    # fields stay visible.
    script.write_text(
        "#!/bin/sh\n"
        f'{{ printf \'%s|\' "$@"; printf \'# %s|%s|%s|%s|%s\\n\' "$ACME_ACTION" "$ACME_CHALLENGE_TYPE" '
        f'"$ACME_IDENTIFIER" "$ACME_TOKEN" "$ACME_VALUE"; }} >> "{log}"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    hook = HookBackend([str(script)])
    assert hook.supports == {"http-01", "dns-01", "tls-alpn-01"}
    hook.add_http01("tok", KEYAUTH)
    hook.add_dns01("*.example.com", "txtvalue")
    hook.add_tlsalpn01(Identifier("dns", "x.example.com"), KEYAUTH)
    hook.remove_dns01("example.com", "txtvalue")
    lines = log.read_text().splitlines()
    assert lines == [
        f"add|http-01||tok|{KEYAUTH}|# add|http-01||tok|{KEYAUTH}",
        "add|dns-01|example.com||txtvalue|# add|dns-01|example.com||txtvalue",
        f"add|tls-alpn-01|x.example.com||{KEYAUTH}|# add|tls-alpn-01|x.example.com||{KEYAUTH}",
        "remove|dns-01|example.com||txtvalue|# remove|dns-01|example.com||txtvalue",
    ]


def test_hook_failure_raises_with_stderr() -> None:
    hook = HookBackend(["sh", "-c", 'echo "boom: $1" >&2; exit 3', "hook"])
    with pytest.raises(HookError, match="boom: add") as info:
        hook.add_http01("tok", KEYAUTH)
    assert info.value.returncode == 3
