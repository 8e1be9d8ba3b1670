"""Fail/pass proofs for the transport and encoding checks (scenarios/s06_1_transport.py)."""

from __future__ import annotations

import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import CheckRunner, assert_verdict
from faults import edit_json, jws_payload, path_contains, rebuild, set_header, set_status
from faults_jws import accept, body_where, in_check_only

from conformance.context import RunContext, RunOptions
from conformance.model import Verdict
from conformance.registry import get_check
from conformance.runner import execute_check
from conformance.targets.base import TargetInfo
from conformance.tlsgen import make_test_pki

ORDER = "/order-plz"


def test_all_urls_https(run_check: CheckRunner) -> None:
    assert_verdict(run_check("transport.all-urls-https"), Verdict.PASS)

    def plain_http(body: dict) -> dict:
        body["orders"] = body["orders"].replace("https://", "http://")
        return body

    downgraded = edit_json(path_contains("/sign-me-up", "POST"), plain_http)
    assert_verdict(run_check("transport.all-urls-https", downgraded), Verdict.FAIL, "account orders")

    def plain_directory(body: dict) -> dict:
        body["keyChange"] = body["keyChange"].replace("https://", "http://")
        return body

    directory = edit_json(path_contains("/dir", "GET"), plain_directory)
    assert_verdict(run_check("transport.all-urls-https", directory), Verdict.FAIL, "directory keyChange")


@pytest.fixture(scope="module")
def modern_tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A loopback TLS server that only speaks TLS 1.2+ with default (modern) suites."""
    pki = make_test_pki(Path(tmp_path_factory.mktemp("tls")), ["127.0.0.1"])
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.cert, pki.key)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(timeout=2)
    listener.close()


def test_no_legacy_tls(run_check: CheckRunner, harness, modern_tls_server: int) -> None:  # type: ignore[no-untyped-def]
    # Pebble 2.4.0 (Go's default server config) negotiates TLS 1.0 and 1.1: a SHOULD (baseline: WARN).
    assert_verdict(run_check("transport.no-legacy-tls"), Verdict.WARN, "TLS 1.0")
    target = TargetInfo(name="modern", directory_url=f"https://127.0.0.1:{modern_tls_server}/dir", verify=False)
    run = RunContext(target, harness.backend, RunOptions())
    try:
        result = execute_check(run, get_check("transport.no-legacy-tls"))
    finally:
        run.close()
    assert_verdict(result, Verdict.PASS)
    assert any("TLS 1.0: refused" in note for note in result.notes)


def test_cors_allow_origin(run_check: CheckRunner) -> None:
    assert_verdict(run_check("transport.cors-allow-origin"), Verdict.PASS)
    narrow = set_header(path_contains("/dir", "GET"), "Access-Control-Allow-Origin", "https://www.ca.example")
    assert_verdict(run_check("transport.cors-allow-origin", narrow), Verdict.WARN, "www.ca.example")
    absent = set_header(path_contains("/dir", "GET"), "Access-Control-Allow-Origin", None)
    assert_verdict(run_check("transport.cors-allow-origin", absent), Verdict.WARN, "None")


def test_utf8_bodies(run_check: CheckRunner) -> None:
    assert_verdict(run_check("transport.utf-8-bodies"), Verdict.PASS)

    def latin1(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if path_contains("/authZ/", "POST")(request):
            return rebuild(response, content=response.content.replace(b"{", "{\"note\":\"caf\xe9\",".encode("latin-1"), 1))
        return response

    assert_verdict(run_check("transport.utf-8-bodies", latin1), Verdict.FAIL, "not UTF-8")
    charset = set_header(path_contains("/my-order/", "POST"), "Content-Type", "application/json; charset=iso-8859-1")
    assert_verdict(run_check("transport.utf-8-bodies", charset), Verdict.FAIL, "iso-8859-1")


def _padded(member: str):  # type: ignore[no-untyped-def]
    return body_where(lambda b: isinstance(b, dict) and str(b.get(member, "")).endswith("="), ORDER)


@pytest.mark.parametrize("member", ["protected", "payload", "signature"])
def test_padded_member_rejected(run_check: CheckRunner, member: str) -> None:
    check_id = f"transport.padded-{member}-rejected"
    result = run_check(check_id)
    assert_verdict(result, Verdict.PASS)
    sent = [e for e in result.exchanges if e.method == "POST" and ORDER in e.url]
    assert sent and re.search(rb'="', sent[-1].request_body)  # the padding was really sent
    assert_verdict(run_check(check_id, accept(_padded(member))), Verdict.FAIL, "not rejected")


def test_padded_csr_rejected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("transport.padded-csr-rejected"), Verdict.PASS)

    def padded_csr(request: httpx.Request) -> bool:
        payload = jws_payload(request)
        return "/finalize-order/" in request.url.path and isinstance(payload, dict) and payload["csr"].endswith("=")

    assert_verdict(run_check("transport.padded-csr-rejected", accept(padded_csr, status=200)), Verdict.FAIL,
                   "not rejected")


def test_server_base64url_values(run_check: CheckRunner) -> None:
    assert_verdict(run_check("transport.server-base64url-values"), Verdict.PASS)

    def padded_token(body: dict) -> dict:
        for challenge in body.get("challenges", []):
            challenge["token"] = challenge["token"] + "=="
        return body

    assert_verdict(run_check("transport.server-base64url-values", edit_json(path_contains("/authZ/", "POST"),
                                                                             padded_token)), Verdict.FAIL, "token")
    nonce = in_check_only(set_header(path_contains(ORDER, "POST"), "Replay-Nonce", "abc/def+"))
    assert_verdict(run_check("transport.server-base64url-values", nonce), Verdict.FAIL, "Replay-Nonce")


def test_unknown_path_404_problem(run_check: CheckRunner) -> None:
    # Pebble answers 404 text/plain ("404 page not found"): information only.
    assert_verdict(run_check("transport.unknown-path-404-problem"), Verdict.INFO, "text/plain")

    def as_problem(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if "no-such-resource" in request.url.path:
            return rebuild(response, content=b'{"type":"about:blank","status":404}',
                           headers={"Content-Type": "application/problem+json"})
        return response

    assert_verdict(run_check("transport.unknown-path-404-problem", as_problem), Verdict.PASS)


def test_head_directory(run_check: CheckRunner) -> None:
    assert_verdict(run_check("transport.head-directory"), Verdict.PASS)
    assert_verdict(run_check("transport.head-directory", set_status(path_contains("/dir", "HEAD"), 405)), Verdict.INFO,
                   "405")
