"""Getting a nonce (RFC 8555 §7.2) and the nonce syntax (§6.5.1)."""

from __future__ import annotations

import binascii

import httpx

from conformance.context import CheckContext
from conformance.judge import expect_base64url, expect_header, expect_status, expect_success, fail
from conformance.jws import b64url_decode
from conformance.model import Warned
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


@check(
    "nonce.post-as-get-returns-nonce",
    title="A POST-as-GET to newNonce succeeds with a Replay-Nonce",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["NONCE-5"],
    sentence="The server MUST allow GET requests for the directory and newNonce resources (see Section 7.1), in "
    "addition to POST-as-GET requests for these resources.",
    tags=["account"],
)
def post_as_get_returns_nonce(ctx: CheckContext) -> None:
    account = ctx.new_account()
    with noting("POST-as-GET newNonce"):
        response = ctx.session.post_as_get(ctx.session.url_for("newNonce"), account)
    # The status is not fixed: Boulder answers 200, Pebble 204.
    expect_success(response, "POST-as-GET of newNonce")
    expect_base64url(expect_header(response, "Replay-Nonce", "POST-as-GET newNonce"), "the Replay-Nonce value")


NONCE_SAMPLE = 300
MIN_NONCE_BYTES = 16  # a heuristic: the RFC's example is a random 128-bit value


@check(
    "nonce.unique-values",
    title=f"{NONCE_SAMPLE} nonces from HEAD newNonce are all different",
    section="RFC 8555 §6.5.1",
    level="MUST",
    requirements=["NONCE-7"],
    sentence="The server MUST generate the values provided in Replay-Nonce header fields in such a way that they "
    "are unique to each message, with high probability, and unpredictable to anyone besides the server.",
    tags=["basic"],
)
def unique_values(ctx: CheckContext) -> None:
    url = ctx.session.url_for("newNonce")
    nonces: list[str] = []
    with noting(f"HEAD newNonce x{NONCE_SAMPLE}"):
        for _ in range(NONCE_SAMPLE):
            value = ctx.session.head(url).headers.get("Replay-Nonce")
            if not value:
                raise fail("HEAD newNonce gave no Replay-Nonce", expected="a nonce on every response", actual="none")
            nonces.append(value)
    duplicates = sorted({n for n in nonces if nonces.count(n) > 1})
    if duplicates:
        raise fail(f"{len(duplicates)} nonce value(s) repeated within {NONCE_SAMPLE} requests",
                   expected="a unique nonce per response", actual=", ".join(duplicates[:5]))
    shortest = min(len(_decoded(n)) for n in nonces)
    if shortest < MIN_NONCE_BYTES:
        raise Warned("some nonces are short enough to be guessable",
                     expected=f"at least {MIN_NONCE_BYTES} random bytes (heuristic)", actual=f"{shortest} bytes")
    ctx.note(f"{NONCE_SAMPLE} distinct nonces, shortest {shortest} bytes decoded")


def _decoded(nonce: str) -> bytes:
    try:
        return b64url_decode(nonce)
    except (ValueError, binascii.Error):
        return nonce.encode()
