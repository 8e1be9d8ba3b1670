"""ACME Renewal Information (RFC 9773): only for servers whose directory advertises renewalInfo."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509

from conformance.acme import (
    Issuance,
    Order,
    SetupFailed,
    describe_response,
    json_or_none,
    retry_after_seconds,
)
from conformance.context import CheckContext
from conformance.judge import expect_problem, expect_rejected, expect_status, fail
from conformance.jws import b64url
from conformance.model import CouldNotTest, Informational
from conformance.recorder import noting
from conformance.registry import check, not_judged

_ISSUE = ["account", "validation", "issuance"]


def ari_cert_id(cert: x509.Certificate) -> str:
    """base64url(AKI keyIdentifier) "." base64url(DER serial contents), no padding (RFC 9773 §4.1)."""
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound as exc:
        raise CouldNotTest("the certificate has no Authority Key Identifier to build an ARI id from") from exc
    if aki is None:
        raise CouldNotTest("the certificate's Authority Key Identifier has no keyIdentifier")
    serial = cert.serial_number
    # DER INTEGER contents: minimal two's complement, so a leading 0x00 when the top bit is set.
    contents = serial.to_bytes((serial.bit_length() + 8) // 8, "big")
    return f"{b64url(aki)}.{b64url(contents)}"


def _renewal_info(ctx: CheckContext, cert_id: str) -> httpx.Response:
    base = ctx.require_resource("renewalInfo").rstrip("/")
    with noting("GET renewalInfo (unauthenticated)"):
        return ctx.session.get(f"{base}/{cert_id}", headers={"Accept": "application/json"})


def _fetch(ctx: CheckContext) -> tuple[httpx.Response, dict[str, Any]]:
    ctx.require_resource("renewalInfo")
    issuance = ctx.issue("http-01")
    response = _renewal_info(ctx, ari_cert_id(issuance.leaf))
    expect_status(response, {200}, "GET renewalInfo for an issued certificate")
    body = json_or_none(response)
    if not isinstance(body, dict):
        raise fail("the RenewalInfo is not a JSON object", expected="a RenewalInfo object",
                   actual=describe_response(response))
    return response, body


def _timestamp(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


@check(
    "ari.directory-url",
    title="renewalInfo, when advertised, is an absolute https URL",
    section="RFC 9773 §3",
    level="MUST",
    requirements=["ARI-1"],
    sentence='An ACME server that wishes to provide renewal information MUST include a new field, "renewalInfo", '
    "in its directory object. (Field renewalInfo: URL in Value.)",
    tags=["basic"],
)
def ari_directory(ctx: CheckContext) -> None:
    url = ctx.require_resource("renewalInfo")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise fail("renewalInfo is not an absolute https URL", expected="https://...", actual=repr(url))


@check(
    "ari.renewal-info-object",
    title="GET renewalInfo/{id} answers 200 with suggestedWindow {start, end} as RFC 3339 timestamps",
    section="RFC 9773 §4.2",
    level="REQUIRED",
    requirements=["ARI-2"],
    sentence='suggestedWindow (object, required): A JSON object with two keys, "start" and "end", whose values '
    "are timestamps, encoded in the format specified in [RFC3339] ... explanationURL (string, optional).",
    tags=_ISSUE,
)
def ari_object(ctx: CheckContext) -> None:
    _, body = _fetch(ctx)
    window = body.get("suggestedWindow")
    if not isinstance(window, dict) or _timestamp(window.get("start")) is None or _timestamp(window.get("end")) is None:
        raise fail("the RenewalInfo has no valid suggestedWindow", expected="suggestedWindow {start, end} (RFC 3339)",
                   actual=str(body)[:300])
    if "explanationURL" in body and not isinstance(body["explanationURL"], str):
        raise fail("explanationURL is not a string", expected="a URL string", actual=repr(body["explanationURL"]))


@check(
    "ari.window-end-after-start",
    title="The suggested window's end is after its start",
    section="RFC 9773 §4.2",
    level="MUST NOT",
    requirements=["ARI-3"],
    sentence="A RenewalInfo object in which the end timestamp equals or precedes the start timestamp is invalid. "
    "Servers MUST NOT serve such a response.",
    tags=_ISSUE,
)
def ari_window(ctx: CheckContext) -> None:
    _, body = _fetch(ctx)
    window = body.get("suggestedWindow") if isinstance(body.get("suggestedWindow"), dict) else {}
    start, end = _timestamp(window.get("start")), _timestamp(window.get("end"))
    if start is None or end is None:
        raise CouldNotTest("the RenewalInfo has no parseable window (see ari.renewal-info-object)")
    if end <= start:
        raise fail("the suggested window ends before it starts", expected="end > start",
                   actual=f"start {window.get('start')}, end {window.get('end')}")


@check(
    "ari.retry-after",
    title="RenewalInfo responses carry a valid Retry-After",
    section="RFC 9773 §4.3",
    level="descr.",
    requirements=["ARI-4"],
    sentence="This protocol uses the Retry-After header [RFC9110] to indicate to clients how often to retry. ... "
    "[a client treats] Retry-After is invalid or not present [as a long-term error] (§4.3.3).",
    tags=_ISSUE,
)
def ari_retry_after(ctx: CheckContext) -> None:
    response, _ = _fetch(ctx)
    if retry_after_seconds(response) is None:
        raise fail("the RenewalInfo response has no valid Retry-After", expected="Retry-After: delta-seconds or "
                   "HTTP-date", actual=repr(response.headers.get("Retry-After")))


@check(
    "ari.malformed-id-refused",
    title="A malformed certificate identifier gets a 4xx problem document",
    section="RFC 9773 §4.1",
    level="descr.",
    requirements=["ARI-5"],
    sentence='"=" characters MUST be stripped from both parts of the unique identifier (an identifier that is not '
    "two base64url parts joined by a dot names no certificate).",
    tags=["basic"],
)
def ari_malformed(ctx: CheckContext) -> None:
    ctx.require_resource("renewalInfo")
    for cert_id in ("no-dot-here", "aYhba4dGQEHhs3uEe6CuLN4ByNQ=.AIdlQyE=", "!!!.~~~"):
        response = _renewal_info(ctx, cert_id)
        expect_rejected(response, f"renewalInfo for the malformed id {cert_id!r}")
        if json_or_none(response) is None:
            raise fail("the refusal is not a problem document", expected="a problem document",
                       actual=describe_response(response))


def _replacing_order(ctx: CheckContext, issuance: Issuance, account: Any = None) -> httpx.Response:
    cert_id = ari_cert_id(issuance.leaf)
    with noting("newOrder replacing the certificate"):
        return ctx.session.new_order_request(account or issuance.account, issuance.identifiers,
                                             extra={"replaces": cert_id})


@check(
    "ari.replaces-reflected",
    title='An accepted newOrder with "replaces" shows the field in the response and in later fetches',
    section="RFC 9773 §5",
    level="MUST",
    requirements=["ARI-6"],
    sentence='If the server accepts a newOrder request with a "replaces" field, it MUST reflect that field in the '
    "response and in subsequent requests for the corresponding Order object.",
    tags=_ISSUE,
)
def ari_replaces(ctx: CheckContext) -> None:
    ctx.require_resource("renewalInfo")
    issuance = ctx.issue("http-01")
    cert_id = ari_cert_id(issuance.leaf)
    response = _replacing_order(ctx, issuance)
    body = json_or_none(response)
    if response.status_code != 201 or not isinstance(body, dict):
        raise Informational(f"the server did not accept the replacement order ({describe_response(response)})")
    if body.get("replaces") != cert_id:
        raise fail("the new order does not reflect replaces", expected=cert_id, actual=repr(body.get("replaces")))
    location = response.headers.get("Location")
    if not location:
        raise SetupFailed("the replacement order has no Location")
    later = ctx.session.refresh(Order(url=location, body=body, account=issuance.account)).body
    if later.get("replaces") != cert_id:
        raise fail("a later fetch of the order does not reflect replaces", expected=cert_id,
                   actual=repr(later.get("replaces")))


@check(
    "ari.already-replaced",
    title="A second order replacing the same certificate gets 409 alreadyReplaced",
    section="RFC 9773 §5",
    level="MUST",
    requirements=["ARI-7"],
    sentence="If the server rejects the request because the identified certificate has already been marked as "
    'replaced, it MUST return an HTTP 409 (Conflict) with a problem document of type "alreadyReplaced".',
    tags=_ISSUE,
)
def ari_already_replaced(ctx: CheckContext) -> None:
    ctx.require_resource("renewalInfo")
    issuance = ctx.issue("http-01")
    first = _replacing_order(ctx, issuance)
    if first.status_code != 201:
        raise Informational(f"the server did not accept a first replacement order ({describe_response(first)})")
    second = _replacing_order(ctx, issuance)
    if second.status_code == 201:
        ctx.note("the server accepted a second replacement (allowed only if it does not mark certificates replaced)")
        raise fail("a second order replacing the same certificate was accepted",
                   expected="HTTP 409 alreadyReplaced", actual="HTTP 201")
    expect_problem(second, ["alreadyReplaced"], "second replacement of one certificate", statuses={409})


@check(
    "ari.replaces-other-account-refused",
    title='"replaces" naming another account\'s certificate is refused',
    section="RFC 9773 §5",
    level="SHOULD",
    requirements=["ARI-8"],
    sentence="Servers SHOULD check that the identified certificate and the newOrder request correspond to the same "
    "ACME Account, that they share at least one identifier ... If any of these checks fail, the server SHOULD "
    "reject the new-order request.",
    tags=_ISSUE + ["two-accounts"],
)
def ari_other_account(ctx: CheckContext) -> None:
    ctx.require_resource("renewalInfo")
    issuance = ctx.issue("http-01")
    response = _replacing_order(ctx, issuance, account=ctx.new_account())
    expect_rejected(response, "replacement of another account's certificate")


not_judged("ARI-9", "POST-as-GET to renewalInfo is unspecified (ARI is an unauthenticated GET); any answer "
           "is acceptable")
