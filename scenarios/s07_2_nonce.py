"""Getting a nonce (RFC 8555 §7.2) and the nonce syntax (§6.5.1)."""

from __future__ import annotations

import httpx

from conformance.context import CheckContext
from conformance.judge import expect_base64url, expect_header, expect_status, fail
from conformance.recorder import noting
from conformance.registry import check


def _new_nonce(ctx: CheckContext, method: str) -> httpx.Response:
    url = ctx.session.url_for("newNonce")
    with noting(f"{method} newNonce"):
        return ctx.session.request(method, url)


def cache_directives(response: httpx.Response) -> set[str]:
    """Cache-Control directive names of every Cache-Control header, lower-cased."""
    names = set()
    for header in response.headers.get_list("Cache-Control"):
        for directive in header.split(","):
            name = directive.split("=", 1)[0].strip().lower()
            if name:
                names.add(name)
    return names


@check(
    "nonce.head-has-replay-nonce",
    title="HEAD newNonce returns a well-formed Replay-Nonce",
    section="RFC 8555 §7.2",
    level="MUST",
    requirements=["NONCE-1", "NONCE-6"],
    sentence="The server's response MUST include a Replay-Nonce header field containing a fresh nonce.",
    tags=["basic"],
)
def head_has_nonce(ctx: CheckContext) -> None:
    response = _new_nonce(ctx, "HEAD")
    nonce = expect_header(response, "Replay-Nonce", "HEAD newNonce")
    expect_base64url(nonce, "the Replay-Nonce value")


@check(
    "nonce.head-returns-200",
    title="HEAD newNonce answers 200 (OK)",
    section="RFC 8555 §7.2",
    level="SHOULD",
    requirements=["NONCE-2"],
    sentence="The server's response MUST include a Replay-Nonce header field containing a fresh nonce and "
    "SHOULD have status code 200 (OK).",
    tags=["basic"],
)
def head_returns_200(ctx: CheckContext) -> None:
    expect_status(_new_nonce(ctx, "HEAD"), {200}, "HEAD newNonce")


@check(
    "nonce.get-returns-204",
    title="GET newNonce answers 204 with an empty body and a Replay-Nonce",
    section="RFC 8555 §7.2",
    level="MUST",
    requirements=["NONCE-3"],
    sentence="The server MUST also respond to GET requests for this resource, returning an empty body "
    "(while still providing a Replay-Nonce header) with a status code of 204 (No Content).",
    tags=["basic"],
)
def get_returns_204(ctx: CheckContext) -> None:
    response = _new_nonce(ctx, "GET")
    expect_status(response, {204}, "GET newNonce")
    if response.content:
        raise fail("GET newNonce returned a body", expected="an empty body", actual=f"{len(response.content)} bytes")
    nonce = expect_header(response, "Replay-Nonce", "GET newNonce")
    expect_base64url(nonce, "the Replay-Nonce value")


@check(
    "nonce.cache-control-no-store",
    title='newNonce responses carry Cache-Control with "no-store"',
    section="RFC 8555 §7.2",
    level="MUST",
    requirements=["NONCE-4"],
    sentence='The server MUST include a Cache-Control header field with the "no-store" directive in '
    "responses for the newNonce resource, in order to prevent caching of this resource.",
    tags=["basic"],
)
def cache_control_no_store(ctx: CheckContext) -> None:
    for method in ("HEAD", "GET"):
        response = _new_nonce(ctx, method)
        directives = cache_directives(response)
        if "no-store" not in directives:
            raise fail(
                f"{method} newNonce is cacheable",
                expected='Cache-Control including "no-store"',
                actual="Cache-Control: " + (", ".join(response.headers.get_list("Cache-Control")) or "(absent)"),
            )
