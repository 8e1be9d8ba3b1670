"""http-01 (RFC 8555 §8.3): what the validation request looks like and which answers validate.

The failure paths use the built-in HTTP responder's canned answers for one path (wrong bodies,
redirects, content types) so the server under test meets exactly the answer the check is about.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.context import CheckContext
from conformance.judge import fail
from conformance.model import CouldNotTest
from conformance.registry import check, not_judged
from conformance.responders.base import Identifier
from conformance.responders.http01 import CHALLENGE_PREFIX
from scenarios._validation import attempt, builtin, expect_failed, expect_valid

_VAL = ["account", "validation"]
Provision = Callable[[Identifier, str, str], None]


Body = bytes | Callable[[str], bytes] | None


def _canned(ctx: CheckContext, status: int, body: Body, headers: dict[str, str] | None = None) -> Provision:
    """A provisioning function serving a fixed answer at the token's path: ``body`` None is the key
    authorization itself, a callable makes the body from it."""
    responders = builtin(ctx)

    def provision(_identifier: Identifier, token: str, keyauth: str) -> None:
        content = keyauth.encode() if body is None else body(keyauth) if callable(body) else body
        responders.http.add_response(CHALLENGE_PREFIX + token, status, content, headers)

    return provision


def _other_token(keyauth: str) -> bytes:
    """The key authorization of another token (same account thumbprint)."""
    return ("A" * 43 + "." + keyauth.split(".", 1)[-1]).encode()


@check(
    "http01.validation-request",
    title="http-01 validation is a plain-HTTP GET of /.well-known/acme-challenge/{token} with Host: the domain",
    section="RFC 8555 §8.3",
    level="MUST",
    requirements=["H01-1", "H01-2", "H01-3"],
    sentence='The server ... Construct a URL by populating the URL template [RFC6570] '
    '"http://{domain}/.well-known/acme-challenge/{token}" ... Dereference the URL using an HTTP GET request. '
    "This request MUST be sent to TCP port 80 on the HTTP server.",
    tags=_VAL,
)
def http01_validation_request(ctx: CheckContext) -> None:
    responders = builtin(ctx)
    result = attempt(ctx, "http-01")
    expect_valid(result, "a correct http-01 answer")
    domain = str(result.authz["identifier"]["value"])
    mine = [r for r in responders.http.requests() if r.path.split("?", 1)[0] == CHALLENGE_PREFIX + result.token]
    if not mine:
        raise fail("the authorization became valid but the responder never saw the validation request",
                   expected=f"GET {CHALLENGE_PREFIX}{result.token}", actual="no request")
    for request in mine:
        host = (request.host or "").rsplit(":", 1)[0] if not (request.host or "").endswith("]") else request.host
        if request.method != "GET" or (host or "").lower() != domain.lower():
            raise fail("the validation request is not a GET with the domain as Host",
                       expected=f"GET with Host: {domain}", actual=f"{request.method} with Host: {request.host}")
    ctx.note(f"validation reached the responder on port {responders.http_port} over plain HTTP (port 80 is the "
             "RFC's; a lab configures the server to use this one)")


@check(
    "http01.trailing-whitespace-ignored",
    title="A key authorization followed by trailing whitespace (LF, CRLF, space/tab) still validates",
    section="RFC 8555 §8.3",
    level="SHOULD",
    requirements=["H01-4"],
    sentence="The server SHOULD ignore whitespace characters at the end of the body.",
    tags=_VAL,
)
def http01_trailing_whitespace(ctx: CheckContext) -> None:
    for tail in (b"\n", b"\r\n", b" \t"):
        result = attempt(ctx, "http-01", provision=_canned(ctx, 200, lambda keyauth, t=tail: keyauth.encode() + t))
        expect_valid(result, f"the key authorization followed by {tail!r}")


@check(
    "http01.wrong-answer-fails",
    title="A wrong http-01 body, an empty body and a 404 all make the validation fail with the right error",
    section="RFC 8555 §8.3",
    level="descr.",
    requirements=["H01-5"],
    sentence="Verify that the body of the response is a well-formed key authorization. ... Verify that key "
    "authorization provided by the HTTP server matches the key authorization stored by the server.",
    tags=_VAL,
)
def http01_wrong_answer(ctx: CheckContext) -> None:
    cases = [
        ("another token's key authorization", 200, _other_token),
        ("an empty body", 200, b""),
        ("a 404", 404, b"not found"),
    ]
    for what, status, body in cases:
        result = attempt(ctx, "http-01", provision=_canned(ctx, status, body))
        types = {"incorrectResponse", "unauthorized"} | ({"connection"} if status == 404 else set())
        expect_failed(result, types, what)


@check(
    "http01.redirect-followed",
    title="The validator follows an HTTP redirect to another path on the same host",
    section="RFC 8555 §8.3",
    level="SHOULD",
    requirements=["H01-6"],
    sentence="The server SHOULD follow redirects when dereferencing the URL. Clients might use redirects, for "
    "example, so that the response can be provided by a centralized certificate management service.",
    tags=_VAL + ["policy"],
)
def http01_redirect(ctx: CheckContext) -> None:
    responders = builtin(ctx)

    def provision(identifier: Identifier, token: str, keyauth: str) -> None:
        target = f"/redirected/{token}"
        responders.http.add_response(target, 200, keyauth.encode())
        location = f"http://{identifier.value}:{responders.http_port}{target}"
        responders.http.add_response(CHALLENGE_PREFIX + token, 302, b"", {"Location": location})

    result = attempt(ctx, "http-01", provision=provision)
    followed = any(r.path == f"/redirected/{result.token}" for r in responders.http.requests())
    if result.authz.get("status") != "valid":
        raise fail("the redirect was not followed to a valid answer", expected="valid after one 302",
                   actual=f"{result.authz.get('status')!r}; redirect target requested: {followed}")
    if not followed:
        raise CouldNotTest("the authorization is valid but the redirect target was never requested")


@check(
    "http01.content-type-irrelevant",
    title="The key authorization served as text/html still validates (only the body counts)",
    section="RFC 8555 §8.3",
    level="descr.",
    requirements=["H01-7"],
    sentence="Verify that the body of the response is a well-formed key authorization (the Content-Type of the "
    "response is not part of the verification; the example uses application/octet-stream).",
    tags=_VAL,
)
def http01_content_type(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01", provision=_canned(ctx, 200, None, {"Content-Type": "text/html"}))
    expect_valid(result, "the key authorization served as text/html")


not_judged("H01-8", "blocking private or loopback validation targets is operator policy (lower-case 'should'), "
           "and in this loopback-only lab every responder is on a loopback address")
not_judged("H01-9", "which of several addresses the validator tries is left to the server ('at least one'); "
           "there is no outcome that breaks the requirement")
