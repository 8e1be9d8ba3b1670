"""The central redaction step: secrets a server echoes (or a future check records) never reach an artefact."""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path

import jsonschema

from conformance.events import EVENTS_FILE, EventWriter
from conformance.jws import AccountKey, b64url, mac_jws
from conformance.recorder import Exchange
from conformance.reports import render_all
from conformance.reports._redact import REDACTED, REDACTED_PEM, Redactor, redact
from conformance.results import RunRecord


def test_pem_private_keys_are_replaced_wherever_they_are() -> None:
    pem = AccountKey.generate("ES256").private_pem().decode().strip()
    rsa_pem = AccountKey.generate("RS256").private_pem().decode()
    document = {"a": f"before {pem} after", "b": [json.dumps({"key": rsa_pem})], "c": {"d": pem.replace("\n", "\r\n")}}
    cleaned = redact(document)
    text = json.dumps(cleaned)
    assert "PRIVATE KEY-----" not in text and pem.splitlines()[1] not in text and rsa_pem.splitlines()[1] not in text
    assert cleaned["a"] == f"before {REDACTED_PEM} after"
    # A PEM that was cut off (truncated body) goes too.
    assert redact(pem[: len(pem) // 2]) == REDACTED_PEM


def test_private_jwk_members_and_secret_names_are_replaced() -> None:
    key = AccountKey.generate("ES256")
    public = key.public_jwk()
    private = {**public, "d": "c2VjcmV0LXNjYWxhci12YWx1ZQ"}
    cleaned = redact({"jwk": private, "public": public, "hmacKey": "abc", "symmetric": {"kty": "oct", "k": "a2V5"},
                      "kid": "not secret", "d": "no JWK around: kept"})
    assert cleaned["jwk"]["d"] == REDACTED and cleaned["jwk"]["x"] == public["x"]
    assert cleaned["public"] == public  # public keys are evidence, they stay
    assert cleaned["hmacKey"] == REDACTED and cleaned["symmetric"]["k"] == REDACTED
    assert cleaned["kid"] == "not secret" and cleaned["d"] == "no JWK around: kept"


def test_known_secrets_are_replaced_in_every_encoding() -> None:
    secret = secrets.token_bytes(32)
    forms = [base64.urlsafe_b64encode(secret).decode().rstrip("="), base64.b64encode(secret).decode(), secret.hex()]
    cleaned = Redactor([secret]).value({"headers": [["X-Echo", f"key={form}"] for form in forms]})
    for (_, value), form in zip(cleaned["headers"], forms, strict=True):
        assert form.rstrip("=") not in value and REDACTED in value


def test_a_secret_inside_a_jws_payload_is_found() -> None:
    hmac_key = secrets.token_bytes(32)
    leaked = b64url(json.dumps({"echo": b64url(hmac_key)}).encode())
    body = json.dumps({"protected": b64url(b'{"alg":"ES256"}'), "payload": leaked, "signature": "c2ln"})
    cleaned = Redactor([hmac_key]).text(body)
    assert leaked not in cleaned and REDACTED in cleaned
    # An ordinary externalAccountBinding (public JWK signed with the HMAC key) is kept as it was.
    jwk = AccountKey.generate("ES256").public_jwk()
    binding = mac_jws(hmac_key, {"alg": "HS256", "kid": "kid-1", "url": "https://ca.test/new-acct"},
                      json.dumps(jwk).encode())
    outer = json.dumps({"protected": b64url(b'{"alg":"ES256"}'),
                        "payload": b64url(json.dumps({"externalAccountBinding": binding}).encode()), "signature": "c2ln"})
    assert Redactor([hmac_key]).text(outer) == outer


def test_every_artefact_is_clean_when_a_server_echoes_secrets(tmp_path: Path) -> None:
    key = AccountKey.generate("ES256")
    pem = key.private_pem().decode()
    hmac_key = secrets.token_bytes(32)
    hmac_text = base64.urlsafe_b64encode(hmac_key).decode().rstrip("=")
    writer = EventWriter(tmp_path / EVENTS_FILE)
    writer.add_secret(hmac_key)
    writer.run_started(RunRecord(target={"name": "echo", "directory_url": "https://127.0.0.1:1/dir"},
                                 started=time.time(), selection={}))
    exchange = Exchange(
        id=1, method="POST", url="https://127.0.0.1:1/new-acct", request_headers=[("Content-Type", "application/jose+json")],
        request_body=b"{}", started=time.time(), duration=0.01, status=400, http_version="HTTP/1.1",
        response_headers=[("X-Echo", hmac_text)],
        response_body=json.dumps({"type": "urn:ietf:params:acme:error:malformed", "detail": pem}).encode(),
    )
    writer.exchange("fixture:account", exchange)
    writer.close()
    render_all(tmp_path)
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"events.ndjson", "results.json", "report.html", "junit.xml", "exchanges.har"}
    for path in files:
        text = path.read_text()
        assert "PRIVATE KEY-----" not in text and pem.splitlines()[1] not in text, path.name
        assert hmac_text not in text, path.name
    assert REDACTED in (tmp_path / "events.ndjson").read_text()
    results = json.loads((tmp_path / "results.json").read_text())
    schema = json.loads((Path(__file__).resolve().parent.parent / "conformance/schemas/results.schema.json").read_text())
    assert not list(jsonschema.Draft202012Validator(schema).iter_errors(results))
    assert results["interrupted"] is True  # no run-finished event: the stream ends like a killed run's


def test_every_renderer_copes_with_a_run_that_never_reached_its_target(tmp_path: Path) -> None:
    writer = EventWriter(tmp_path / EVENTS_FILE)
    record = RunRecord(target={}, started=time.time(), selection={}, harness_error="connection refused")
    writer.run_started(record)
    failed = Exchange(id=7, method="GET", url="https://127.0.0.1:9/dir", request_headers=[], request_body=b"",
                      started=time.time(), error="ConnectError: connection refused")
    binary = Exchange(id=8, method="GET", url="https://127.0.0.1:9/cert", request_headers=[], request_body=b"",
                      started=time.time(), status=200, response_body=b"\x30\x82\xff\x00")
    writer.exchange("run:directory", failed)
    writer.exchange("run:directory", binary)
    record.ended = time.time()
    writer.run_finished(record, {})
    writer.close()
    render_all(tmp_path)
    har = json.loads((tmp_path / "exchanges.har").read_text())["log"]["entries"]
    assert har[0]["response"]["status"] == 0 and "connection refused" in har[0]["response"]["_error"]
    assert har[1]["response"]["content"]["encoding"] == "base64" and har[1]["response"]["content"]["size"] == 4
    html = (tmp_path / "report.html").read_text()
    assert "Harness error: connection refused" in html and "Transport error: ConnectError" in html
    assert "base64: not UTF-8" in html
    assert json.loads((tmp_path / "results.json").read_text())["harness_error"] == "connection refused"
