"""Errors and problem documents (RFC 8555 §6.6, §6.7, §6.7.1; RFC 9457 §3.1).

The checks judge a sample of error responses that one shared set-up provokes once per run (bad
nonce, bad signature, unknown account, wrong method, wrong media type, another account's order, an
unknown order URL, finalize too early, an unknown identifier type, a url mismatch), plus the
responses they provoke themselves.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from conformance.acme import AcmeSession, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.csr import make_csr
from conformance.judge import fail, media_type
from conformance.jws import JwsFault
from conformance.model import CouldNotTest
from conformance.recorder import noting
from conformance.registry import check, not_judged
from conformance.responders.base import Identifier

ACME_PREFIX = "urn:ietf:params:acme:error:"
# The IANA "ACME Error Types" registry: the RFC 8555 §6.7 table plus later registrations.
REGISTERED_TYPES = frozenset({
    "accountDoesNotExist", "alreadyRevoked", "badCSR", "badNonce", "badPublicKey", "badRevocationReason",
    "badSignatureAlgorithm", "caa", "compound", "connection", "dns", "externalAccountRequired",
    "incorrectResponse", "invalidContact", "malformed", "orderNotReady", "rateLimited", "rejectedIdentifier",
    "serverInternal", "tls", "unauthorized", "unsupportedContact", "unsupportedIdentifier", "userActionRequired",
    "alreadyReplaced",  # RFC 9773
    "invalidProfile",  # draft-ietf-acme-profiles
})

Sample = list[tuple[str, httpx.Response]]


def _provoke(ctx: CheckContext) -> Sample:
    """Error responses of many kinds, made once per run (read-only afterwards)."""
    run = ctx.run
    base = run.options.base_domain

    def make(session: AcmeSession) -> Sample:
        owner = session.create_account(run.keys.get("ES256"), eab=run.account_binding())
        stranger = session.create_account(run.keys.get("ES256"), eab=run.account_binding())
        identifiers = [Identifier("dns", f"errors-{secrets.token_hex(5)}.{base}")]
        order = session.create_order(owner, identifiers)
        new_order = session.url_for("newOrder")
        payload = {"identifiers": [{"type": "dns", "value": f"errors-{secrets.token_hex(5)}.{base}"}]}
        once: dict[str, Any] = {"retry_bad_nonce": False}
        sample: Sample = []

        def add(label: str, send: Any) -> None:
            with noting(f"provoke an error: {label}"):
                sample.append((label, send()))

        add("never-issued nonce", lambda: session.signed(new_order, payload, owner, nonce=secrets.token_urlsafe(16),
                                                         **once))
        add("corrupted signature", lambda: session.signed(new_order, payload, owner,
                                                          fault=JwsFault(corrupt_signature=True), **once))
        add("url mismatch", lambda: session.signed(new_order, payload, owner,
                                                   fault=JwsFault(header_set={"url": session.url_for("newAccount")}),
                                                   **once))
        add("kid of an unknown account", lambda: session.signed(
            new_order, payload, owner, fault=JwsFault(header_set={"kid": owner.url + "-unknown"}), **once))
        add("Content-Type application/json", lambda: session.signed(
            new_order, payload, owner, fault=JwsFault(content_type="application/json"), **once))
        add("plain GET of newOrder", lambda: session.get(new_order))
        add("another account's order", lambda: session.post_as_get(order.url, stranger))
        add("an order URL that does not exist", lambda: session.post_as_get(order.url + "-unknown", owner))
        add("finalize of a pending order", lambda: session.finalize_request(order, make_csr([identifiers[0].value])[0]))
        add("an unknown identifier type", lambda: session.signed(
            new_order, {"identifiers": [{"type": "x-unknown", "value": "x"}]}, owner))
        return [(label, response) for label, response in sample if response.status_code >= 400]

    sample = ctx.shared("errors:sample", make)
    if not sample:
        raise CouldNotTest("none of the provoked requests was refused: no error responses to judge")
    return sample


def _judge_each(ctx: CheckContext, sample: Sample, judge: Any, what: str, expected: str) -> None:
    problems = []
    for label, response in sample:
        finding = judge(response)
        if finding:
            problems.append(f"{label}: {finding}")
    ctx.note(f"judged {len(sample)} error responses")
    if problems:
        raise fail(what, expected=expected, actual="; ".join(problems))


def _body(response: httpx.Response) -> dict[str, Any] | None:
    body = json_or_none(response)
    return body if isinstance(body, dict) else None


@check(
    "errors.problem-document",
    title="Error responses are problem documents (application/problem+json, a JSON object)",
    section="RFC 8555 §6.7",
    level="SHOULD",
    requirements=["ERR-1"],
    sentence="When the server responds with an error status, it SHOULD provide additional information using a "
    "problem document [RFC7807].",
    tags=["two-accounts"],
)
def problem_document(ctx: CheckContext) -> None:
    def judge(response: httpx.Response) -> str | None:
        kind = media_type(response)
        if kind != "application/problem+json":
            return f"HTTP {response.status_code} with Content-Type {kind or '(none)'}, {len(response.content)} bytes"
        if _body(response) is None:
            return f"HTTP {response.status_code}: the body is not a JSON object"
        return None

    _judge_each(ctx, _provoke(ctx), judge, "error responses that are not problem documents",
                "Content-Type: application/problem+json with a JSON object body")


@check(
    "errors.type-is-acme-urn",
    title="Problem types are strings; ACME errors use the full urn:ietf:params:acme:error: URN",
    section="RFC 8555 §6.7",
    level="descr.",
    requirements=["ERR-2"],
    sentence="this document defines the following standard tokens for use in the \"type\" field (within the ACME "
    "URN namespace \"urn:ietf:params:acme:error:\") ... an \"error of type 'badCSR'\" refers to an error document "
    "with \"type\" value \"urn:ietf:params:acme:error:badCSR\".",
    tags=["two-accounts"],
)
def type_is_acme_urn(ctx: CheckContext) -> None:
    def judge(response: httpx.Response) -> str | None:
        body = _body(response)
        if body is None:
            return None  # not a problem document at all: errors.problem-document reports it
        kind = body.get("type")
        if not isinstance(kind, str):
            return f"type is {kind!r}" if "type" in body else "no type member"
        if kind.startswith("urn:acme:error:"):
            return f"draft-era (pre-RFC) type {kind!r}"
        if ":" not in kind and kind in REGISTERED_TYPES:
            return f"bare token {kind!r} without the {ACME_PREFIX} prefix"
        return None

    _judge_each(ctx, _provoke(ctx), judge, "problem types that are not ACME URNs",
                f"type = {ACME_PREFIX}<token>")


@check(
    "errors.registered-types",
    title="Types in the ACME URN namespace are registered ones",
    section="RFC 8555 §6.7",
    level="MUST NOT",
    requirements=["ERR-3"],
    sentence="Servers MUST NOT use the ACME URN namespace for errors not listed in the appropriate IANA registry "
    "(see Section 9.6).",
    tags=["two-accounts"],
)
def registered_types(ctx: CheckContext) -> None:
    def judge(response: httpx.Response) -> str | None:
        body = _body(response)
        kind = body.get("type") if body else None
        if isinstance(kind, str) and kind.startswith(ACME_PREFIX) and kind[len(ACME_PREFIX):] not in REGISTERED_TYPES:
            return f"unregistered type {kind!r}"
        return None

    sample = _provoke(ctx) + _subproblem_sample(ctx)
    _judge_each(ctx, sample, judge, "unregistered ACME error types", "a type from the IANA ACME Error Types registry")


@check(
    "errors.status-member-matches",
    title="A problem document's status member equals the HTTP status code",
    section="RFC 9457 §3.1.2",
    level="MUST",
    requirements=["ERR-4"],
    sentence="The \"status\" member, if present, is only advisory ... Generators MUST use the same status code in "
    "the actual HTTP response.",
    tags=["two-accounts"],
)
def status_member_matches(ctx: CheckContext) -> None:
    def judge(response: httpx.Response) -> str | None:
        body = _body(response)
        if body is None or "status" not in body:
            return None
        if body["status"] != response.status_code or isinstance(body["status"], bool):
            return f"status member {body['status']!r} on HTTP {response.status_code}"
        return None

    _judge_each(ctx, _provoke(ctx), judge, "status members that differ from the HTTP status",
                "status equal to the HTTP status code")


@check(
    "errors.member-types",
    title="detail, title and instance are strings when present",
    section="RFC 9457 §3.1",
    level="descr.",
    requirements=["ERR-5"],
    sentence='The "title" member is a JSON string ... The "detail" member is a JSON string ... The "instance" '
    "member is a JSON string containing a URI reference.",
    tags=["two-accounts"],
)
def member_types(ctx: CheckContext) -> None:
    def judge(response: httpx.Response) -> str | None:
        body = _body(response) or {}
        wrong = [f"{name} is {type(body[name]).__name__}" for name in ("detail", "title", "instance")
                 if name in body and not isinstance(body[name], str)]
        return ", ".join(wrong) or None

    _judge_each(ctx, _provoke(ctx), judge, "problem members of the wrong type", "detail/title/instance as strings")


def _subproblem_sample(ctx: CheckContext) -> Sample:
    """A newOrder where some identifiers are refusable, the classic case for subproblems (§6.7.1)."""
    account = ctx.new_account()
    good = ctx.new_domain("sub")
    identifiers = [Identifier("dns", good), Identifier("dns", f"bad_name_{secrets.token_hex(3)}.{good}"),
                   Identifier("dns", "localhost")]
    with noting("newOrder with identifiers a CA refuses (subproblems may be returned)"):
        response = ctx.session.new_order_request(account, identifiers)
    if response.status_code < 400:
        ctx.note("the server accepted an order for localhost and a name with '_' (its policy)")
        return []
    return [("newOrder with refusable identifiers", response)]


@check(
    "errors.subproblems-structure",
    title="subproblems, when returned, are problem documents whose identifier is an ACME identifier",
    section="RFC 8555 §6.7.1",
    level="MUST",
    requirements=["ERR-6"],
    sentence='an ACME problem document MAY contain the "subproblems" field, containing a JSON array of problem '
    'documents, each of which MAY contain an "identifier" field. If present, the "identifier" field MUST contain '
    "an ACME identifier (Section 9.7.7).",
    tags=["account"],
)
def subproblems_structure(ctx: CheckContext) -> None:
    sample = _subproblem_sample(ctx)
    seen = 0

    def judge(response: httpx.Response) -> str | None:
        nonlocal seen
        body = _body(response)
        if body is None or "subproblems" not in body:
            return None
        subproblems = body["subproblems"]
        if not isinstance(subproblems, list):
            return f"subproblems is {type(subproblems).__name__}, not an array"
        for index, sub in enumerate(subproblems):
            seen += 1
            if not isinstance(sub, dict) or not isinstance(sub.get("type", ""), str):
                return f"subproblem {index} is not a problem document"
            if "identifier" in sub and not _is_identifier(sub["identifier"]):
                return f"subproblem {index} has identifier {sub['identifier']!r}"
        return None

    _judge_each(ctx, sample, judge, "malformed subproblems", "an array of problem documents with {type, value} identifiers")
    if not seen:
        ctx.note("no subproblems were returned (they are optional)")


def _is_identifier(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("type"), str) and isinstance(value.get("value"), str))


@check(
    "errors.no-top-level-identifier",
    title="Problem documents have no top-level identifier member",
    section="RFC 8555 §6.7.1",
    level="MUST NOT",
    requirements=["ERR-7"],
    sentence='The "identifier" field MUST NOT be present at the top level in ACME problem documents. It can only '
    "be present in subproblems.",
    tags=["two-accounts"],
)
def no_top_level_identifier(ctx: CheckContext) -> None:
    def judge(response: httpx.Response) -> str | None:
        body = _body(response)
        return f"top-level identifier {body['identifier']!r}" if body and "identifier" in body else None

    sample = _provoke(ctx) + _subproblem_sample(ctx)
    _judge_each(ctx, sample, judge, "problem documents with a top-level identifier", "identifier only in subproblems")


@check(
    "errors.unsupported-method-405",
    title="PUT and DELETE on ACME resources are answered 405",
    section="RFC 8555 §6.7",
    level="MAY",
    requirements=["ERR-10"],
    sentence="if the client submits a request using a method not allowed in this document, then the server MAY "
    "return status code 405 (Method Not Allowed).",
    tags=["basic"],
)
def unsupported_method(ctx: CheckContext) -> None:
    others = []
    for method in ("PUT", "DELETE"):
        for resource in ("newOrder", "newAccount"):
            with noting(f"{method} {resource}"):
                response = ctx.session.request(method, ctx.session.url_for(resource))
            if response.status_code != 405:
                others.append(f"{method} {resource} -> {describe_response(response)}")
    if others:
        raise fail("methods the RFC does not use were not answered 405", expected="405 (allowed, not required)",
                   actual="; ".join(others))


not_judged("ERR-8", "tripping a rate limit needs a lab server with limits and permission (Pebble has none); the "
           "outcome depends on server policy")
not_judged("ERR-9", "Retry-After and Link rel=help on rateLimited errors need a rate limit to trip (see ERR-8)")
