"""Fail/pass proofs for Link, Location, Retry-After and media types (scenarios/s07_1_headers.py)."""

from __future__ import annotations

import datetime
import json

from conftest import CheckRunner, assert_verdict
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faults import chain, edit_json, rebuild, set_header, set_status
from faults_accounts import (
    AUTHZ,
    CERT,
    CHALLENGE,
    NEW_ORDER,
    ORDERS,
    add_link,
    after,
    both,
    challenge_up_links,
    post_as_get,
)

from conformance.model import Verdict
from scenarios.s07_1_headers import retry_after_problem

PEM = "application/pem-certificate-chain"


def _foreign_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def test_retry_after_grammar() -> None:
    for good in ("0", "120", "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                 "Sun Nov  6 08:49:37 1994", " 5 "):
        assert retry_after_problem(good) is None, good
    for bad in ("soon", "-1", "1.5", "2015-10-21T07:28:00Z", "Wed, 21 Oct 2015 07:28:00 +0200", "", "١٢",
                "Wed, 21 Oct 2015 07:28:00 UTC"):
        assert retry_after_problem(bad) is not None, bad


def test_link_index(run_check: CheckRunner) -> None:
    result = run_check("headers.link-index")
    assert_verdict(result, Verdict.PASS)
    # The walk covers errors too (ietf-wg-acme/acme#493): finalize, revokeCert and keyChange errors.
    assert sum(1 for e in result.exchanges if e.status and e.status >= 400) >= 3
    no_link = set_header(lambda q: "/finalize-order/" in q.url.path, "Link", None)
    assert_verdict(run_check("headers.link-index", no_link), Verdict.WARN, "finalize (error)")
    # boulder#4106: the index link pointed at /index instead of the directory.
    wrong = set_header(lambda q: "/my-account/" in q.url.path, "Link", '<https://127.0.0.1/index>;rel="index"')
    assert_verdict(run_check("headers.link-index", wrong), Verdict.WARN, "the account")


def test_challenge_link_up(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 sends rel="up" on POST {} but not on POST-as-GET of a challenge (baseline WARN).
    assert_verdict(run_check("headers.challenge-link-up"), Verdict.WARN, "POST-as-GET: no up link")
    assert_verdict(run_check("headers.challenge-link-up", challenge_up_links()), Verdict.PASS)
    no_up = set_header(CHALLENGE, "Link", None)
    assert_verdict(run_check("headers.challenge-link-up", no_up), Verdict.WARN, "POST {}")


def test_alternate_chains_same_leaf(run_check: CheckRunner) -> None:
    assert_verdict(run_check("headers.alternate-chains-same-leaf"), Verdict.SKIP)  # no PEBBLE_ALTERNATE_ROOTS
    same = add_link(CERT, lambda q: str(q.url), "alternate")
    assert_verdict(run_check("headers.alternate-chains-same-leaf", same), Verdict.PASS)

    def foreign(request, response):  # type: ignore[no-untyped-def]
        return rebuild(response, content=_foreign_pem()) if CERT(request) else response

    # The first download (the shared issuance) is genuine; the alternate then names someone else's chain.
    assert_verdict(run_check("headers.alternate-chains-same-leaf", chain(after(CERT, foreign), same)), Verdict.WARN,
                   "same end-entity")


def _as_der(with_up: bool):  # type: ignore[no-untyped-def]
    def hook(request, response):  # type: ignore[no-untyped-def]
        if not CERT(request) or request.headers.get("Accept") != "application/pkix-cert":
            return response
        leaf = x509.load_pem_x509_certificates(response.content)[0].public_bytes(serialization.Encoding.DER)
        headers = {"Content-Type": "application/pkix-cert"}
        changed = rebuild(response, content=leaf, headers=headers)
        return add_link(CERT, lambda q: "https://127.0.0.1/issuer", "up")(request, changed) if with_up else changed

    return hook


def test_single_certificate_link_up(run_check: CheckRunner) -> None:
    assert_verdict(run_check("headers.single-certificate-link-up"), Verdict.SKIP)  # Pebble ignores the Accept
    assert_verdict(run_check("headers.single-certificate-link-up", _as_der(with_up=True)), Verdict.PASS)
    assert_verdict(run_check("headers.single-certificate-link-up", _as_der(with_up=False)), Verdict.WARN, "up")


def test_orders_pagination(run_check: CheckRunner) -> None:
    result = run_check("headers.orders-pagination")
    assert_verdict(result, Verdict.PASS)
    assert any("page(s)" in note and "over 1 page" not in note for note in result.notes), result.notes  # 3 per page
    no_next = set_header(ORDERS, "Link", None)
    assert_verdict(run_check("headers.orders-pagination", no_next), Verdict.INFO, "missing")
    repeated = add_link(ORDERS, lambda q: str(q.url), "next")
    assert_verdict(run_check("headers.orders-pagination", chain(set_header(ORDERS, "Link", None), repeated)),
                   Verdict.INFO, "loop")


def test_new_order_location(run_check: CheckRunner) -> None:
    assert_verdict(run_check("headers.new-order-location"), Verdict.PASS)
    assert_verdict(run_check("headers.new-order-location", set_header(NEW_ORDER, "Location", None)), Verdict.WARN,
                   "Location")
    assert_verdict(run_check("headers.new-order-location", set_status(NEW_ORDER, 200)), Verdict.WARN, "HTTP 201")
    other = edit_json(lambda q: "/my-order/" in q.url.path, lambda b: {**b, "identifiers": []})
    assert_verdict(run_check("headers.new-order-location", other), Verdict.WARN, "does not serve")


def test_retry_after_syntax(run_check: CheckRunner) -> None:
    result = run_check("headers.retry-after-syntax")
    assert_verdict(result, Verdict.PASS)
    orders = lambda q: "/my-order/" in q.url.path  # noqa: E731
    assert_verdict(run_check("headers.retry-after-syntax", set_header(orders, "Retry-After", "soon")), Verdict.FAIL,
                   "soon")
    assert_verdict(run_check("headers.retry-after-syntax", set_header(orders, "Retry-After", "0")), Verdict.PASS)
    past = set_header(orders, "Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")
    assert_verdict(run_check("headers.retry-after-syntax", past), Verdict.PASS)


def test_authz_poll_during_validation(run_check: CheckRunner) -> None:
    assert_verdict(run_check("headers.authz-poll-during-validation"), Verdict.PASS)
    answered = both(CHALLENGE, lambda q: not post_as_get(q))
    busy = after(answered, set_status(AUTHZ, 202))
    assert_verdict(run_check("headers.authz-poll-during-validation", busy), Verdict.FAIL, "HTTP 200")
    bad = after(answered, set_header(AUTHZ, "Retry-After", "later"))
    assert_verdict(run_check("headers.authz-poll-during-validation", bad), Verdict.FAIL, "Retry-After")
    good = after(answered, set_header(AUTHZ, "Retry-After", "1"))
    assert_verdict(run_check("headers.authz-poll-during-validation", good), Verdict.PASS)


def _retrying(retry_after: str | None):  # type: ignore[no-untyped-def]
    """Challenge polls report a failed attempt while the server keeps trying (§8.2)."""
    error = {"type": "urn:ietf:params:acme:error:connection", "detail": "injected"}
    edit = edit_json(both(CHALLENGE, post_as_get), lambda b: {**b, "status": "processing", "error": error})
    if retry_after is None:
        return edit
    return chain(edit, set_header(both(CHALLENGE, post_as_get), "Retry-After", retry_after))


def test_challenge_retry_state(run_check: CheckRunner) -> None:
    assert_verdict(run_check("headers.challenge-retry-state"), Verdict.SKIP)  # Pebble goes straight to invalid
    assert_verdict(run_check("headers.challenge-retry-state", _retrying(None)), Verdict.FAIL, "Retry-After")
    assert_verdict(run_check("headers.challenge-retry-state", _retrying("5")), Verdict.PASS)
    assert_verdict(run_check("headers.challenge-retry-state", _retrying("in a bit")), Verdict.FAIL, "malformed")


def test_certificate_media_type(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 adds "; charset=utf-8" (baseline WARN; §9.1: "Optional parameters: None").
    assert_verdict(run_check("headers.certificate-media-type"), Verdict.WARN, "charset=utf-8")
    assert_verdict(run_check("headers.certificate-media-type", set_header(CERT, "Content-Type", PEM)), Verdict.PASS)
    text = set_header(CERT, "Content-Type", "text/plain")
    assert_verdict(run_check("headers.certificate-media-type", text), Verdict.WARN, "not served as")


def test_certificate_without_accept(run_check: CheckRunner) -> None:
    result = run_check("headers.certificate-without-accept")
    assert_verdict(result, Verdict.PASS)
    sent = [e for e in result.exchanges if "/certZ/" in e.url]
    assert sent and not any(name.lower() == "accept" for name, _ in sent[-1].request_headers)

    def demands_accept(request, response):  # type: ignore[no-untyped-def]
        if CERT(request) and "accept" not in request.headers:  # Buypass (polymind-inc/acmebot#671)
            body = {"type": "urn:ietf:params:acme:error:malformed", "detail": "Accept required", "status": 400}
            return rebuild(response, status=400, content=json.dumps(body).encode(),
                           headers={"Content-Type": "application/problem+json"})
        return response

    assert_verdict(run_check("headers.certificate-without-accept", demands_accept), Verdict.WARN, "Accept")


def test_certificate_unavailable_format(run_check: CheckRunner) -> None:
    assert_verdict(run_check("headers.certificate-unavailable-format"), Verdict.PASS)
    json_accept = both(CERT, lambda q: q.headers.get("Accept") == "application/json")
    assert_verdict(run_check("headers.certificate-unavailable-format", set_status(json_accept, 406)), Verdict.PASS)
    assert_verdict(run_check("headers.certificate-unavailable-format", set_status(json_accept, 500)), Verdict.INFO,
                   "neither 406")


def test_json_media_type(run_check: CheckRunner) -> None:
    assert_verdict(run_check("headers.json-media-type"), Verdict.PASS)
    text = set_header(AUTHZ, "Content-Type", "text/plain")
    assert_verdict(run_check("headers.json-media-type", text), Verdict.WARN, "the authorization")
