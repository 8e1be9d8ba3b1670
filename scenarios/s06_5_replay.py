"""Replay protection (RFC 8555 §6.5, §6.5.1, §6.5.2): nonces in requests and responses.

The nonce is the only part of these requests that is wrong (unknown, reused, missing, badly
encoded, or misplaced); everything else is a correct kid-signed request of a fresh account.
"""

from __future__ import annotations

import secrets

import httpx

from conformance.acme import Account, describe_response
from conformance.context import CheckContext
from conformance.judge import BASE64URL, expect_problem, expect_rejected, expect_success, fail
from conformance.jws import JwsFault
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._s06_raw import broken_post, order_payload, short_type

_BAD_NONCE = (
    "When a server rejects a request because its nonce value was unacceptable (or not present), it MUST provide "
    'HTTP status code 400 (Bad Request), and indicate the ACME error type "urn:ietf:params:acme:error:badNonce".'
)
_SPENT = (
    "Once a nonce value has appeared in an ACME request, the server MUST consider it invalid, in the same way as "
    "a value it had never issued."
)


def _order_with_nonce(ctx: CheckContext, account: Account, nonce: str | None, what: str,
                      fault: JwsFault | None = None) -> httpx.Response:
    kwargs = {"nonce": nonce} if nonce is not None else {"use_nonce": False}
    return broken_post(ctx, account, ctx.session.url_for("newOrder"), order_payload(ctx), fault or JwsFault(), what,
                       **kwargs)


def _never_issued() -> str:
    return secrets.token_urlsafe(16)


@check(
    "nonce.every-nonce-well-formed",
    title="Every Replay-Nonce the server sends (success and error responses) is base64url",
    section="RFC 8555 §6.5.1",
    level="MUST",
    requirements=["NONCE-6"],
    sentence="The value of the Replay-Nonce header field MUST be an octet string encoded according to the "
    "base64url encoding described in Section 2 of [RFC7515]. ... Replay-Nonce = 1*base64url",
    tags=["account"],
)
def every_nonce_well_formed(ctx: CheckContext) -> None:
    account = ctx.new_account()
    ctx.session.post_as_get(account.url, account)
    _order_with_nonce(ctx, account, _never_issued(), "newOrder with a nonce never issued")
    broken_post(ctx, account, ctx.session.url_for("newOrder"), order_payload(ctx), JwsFault(corrupt_signature=True),
                "newOrder with a corrupted signature")
    with noting("GET newNonce"):
        ctx.session.get(ctx.session.url_for("newNonce"))
    seen = 0
    for exchange in ctx.recorder.exchanges:
        value = exchange.response_header("Replay-Nonce")
        if value is None:
            continue
        seen += 1
        if not BASE64URL.match(value):
            raise fail("a Replay-Nonce value is not base64url", expected="1*base64url ([A-Za-z0-9_-], no padding)",
                       actual=f"{value!r} on {exchange.method} {exchange.url} -> {exchange.status}")
    if not seen:
        raise fail("no response carried a Replay-Nonce", expected="Replay-Nonce headers", actual="none")


@check(
    "nonce.success-post-has-nonce",
    title="Every successful POST response carries a Replay-Nonce",
    section="RFC 8555 §6.5",
    level="MUST",
    requirements=["NONCE-8"],
    sentence="The server MUST include a Replay-Nonce header field in every successful response to a POST request "
    "and SHOULD provide it in error responses as well.",
    tags=["account"],
)
def success_post_has_nonce(ctx: CheckContext) -> None:
    account = ctx.new_account()
    order = ctx.session.create_order(account, ctx.new_identifiers())
    with noting("POST-as-GET account, order, authorization and orders list"):
        ctx.session.post_as_get(account.url, account)
        ctx.session.post_as_get(order.url, account)
        for url in order.body.get("authorizations") or []:
            ctx.session.post_as_get(str(url), account)
        if isinstance(account.body.get("orders"), str):
            ctx.session.post_as_get(account.body["orders"], account)
    missing = [f"{e.method} {e.url} -> {e.status}" for e in ctx.recorder.exchanges
               if e.method == "POST" and e.status is not None and 200 <= e.status < 300
               and not e.response_header("Replay-Nonce")]
    if missing:
        raise fail("successful POST responses without Replay-Nonce", expected="Replay-Nonce on every 2xx POST",
                   actual="; ".join(missing))


@check(
    "nonce.error-post-has-nonce",
    title="Error responses to POSTs carry a Replay-Nonce too",
    section="RFC 8555 §6.5",
    level="SHOULD",
    requirements=["NONCE-9"],
    sentence="The server MUST include a Replay-Nonce header field in every successful response to a POST request "
    "and SHOULD provide it in error responses as well (§6.5).",
    tags=["account"],
)
def error_post_has_nonce(ctx: CheckContext) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("newOrder")
    _order_with_nonce(ctx, account, _never_issued(), "newOrder with a nonce never issued")
    broken_post(ctx, account, url, order_payload(ctx), JwsFault(corrupt_signature=True), "newOrder, bad signature")
    broken_post(ctx, account, url, order_payload(ctx), JwsFault(header_set={"url": ctx.session.url_for("newAccount")}),
                "newOrder, url mismatch")
    broken_post(ctx, account, url, {"identifiers": "not a list"}, JwsFault(), "newOrder, malformed payload")
    errors = [e for e in ctx.recorder.exchanges if e.method == "POST" and e.status is not None and e.status >= 400]
    if not errors:
        raise fail("none of the broken requests was refused", expected="4xx responses", actual="only successes")
    missing = [f"{e.note}: HTTP {e.status}" for e in errors if not e.response_header("Replay-Nonce")]
    if missing:
        raise fail("error responses without Replay-Nonce", expected="a Replay-Nonce on POST error responses",
                   actual="; ".join(missing))


@check(
    "nonce.unknown-nonce-rejected",
    title="A nonce the server never issued is rejected with 400 badNonce",
    section="RFC 8555 §6.5",
    level="MUST",
    requirements=["NONCE-10"],
    sentence="verify that the value of the \"nonce\" header is a value that the server previously provided in a "
    "Replay-Nonce header field. " + _BAD_NONCE,
    tags=["account"],
)
def unknown_nonce(ctx: CheckContext) -> None:
    account = ctx.new_account()
    response = _order_with_nonce(ctx, account, _never_issued(), "newOrder with a nonce never issued")
    expect_problem(response, ["badNonce"], "a never-issued nonce", statuses={400})


@check(
    "nonce.reused-nonce-rejected",
    title="A nonce that already appeared in a request is rejected with badNonce",
    section="RFC 8555 §6.5",
    level="MUST",
    requirements=["NONCE-11"],
    sentence=_SPENT + " " + _BAD_NONCE,
    tags=["account"],
)
def reused_nonce(ctx: CheckContext) -> None:
    account = ctx.new_account()
    nonce = ctx.session.new_nonce()
    with noting("first request with the nonce"):
        first = ctx.session.post_as_get(account.url, account, nonce=nonce)
    expect_success(first, "POST-as-GET of the account with a fresh nonce")
    with noting("second request reusing it"):
        again = ctx.session.post_as_get(account.url, account, nonce=nonce)
    expect_problem(again, ["badNonce"], "a reused nonce", statuses={400})


@check(
    "nonce.missing-nonce-rejected",
    title="A signed POST without a nonce is rejected with 400 badNonce",
    section="RFC 8555 §6.5",
    level="MUST",
    requirements=["NONCE-12"],
    sentence=_BAD_NONCE,
    tags=["account"],
)
def missing_nonce(ctx: CheckContext) -> None:
    account = ctx.new_account()
    response = _order_with_nonce(ctx, account, None, "newOrder without a nonce")
    expect_problem(response, ["badNonce"], "a request without a nonce", statuses={400})


@check(
    "nonce.bad-nonce-retry-works",
    title="A badNonce error carries a fresh nonce that the server accepts in the retry",
    section="RFC 8555 §6.5",
    level="MUST",
    requirements=["NONCE-13"],
    sentence='An error response with the "badNonce" error type MUST include a Replay-Nonce header field with a '
    "fresh nonce that the server will accept in a retry of the original query.",
    tags=["account"],
)
def bad_nonce_retry(ctx: CheckContext) -> None:
    account = ctx.new_account()
    payload = order_payload(ctx)
    url = ctx.session.url_for("newOrder")
    with noting("newOrder with a nonce never issued"):
        first = ctx.session.signed(url, payload, account, nonce=_never_issued(), retry_bad_nonce=False)
    expect_problem(first, ["badNonce"], "a never-issued nonce", statuses={400})
    fresh = first.headers.get("Replay-Nonce")
    if not fresh:
        raise fail("the badNonce response has no Replay-Nonce", expected="a fresh nonce for the retry",
                   actual=describe_response(first))
    with noting("retry with the nonce from the badNonce response"):
        retry = ctx.session.signed(url, payload, account, nonce=fresh, retry_bad_nonce=False)
    expect_success(retry, "the retry with the nonce from the badNonce response")


def _spent_by(ctx: CheckContext, fault: JwsFault, what: str) -> None:
    account = ctx.new_account()
    nonce = ctx.session.new_nonce()
    first = _order_with_nonce(ctx, account, nonce, f"newOrder with {what}", fault)
    expect_rejected(first, f"newOrder with {what}")
    ctx.note(f"the first request was rejected with {describe_response(first)}")
    again = _order_with_nonce(ctx, account, nonce, "a correct newOrder reusing that nonce")
    if short_type(again) == "badNonce" and again.status_code == 400:
        return
    raise fail(f"the nonce of a request rejected for {what} was accepted again",
               expected="HTTP 400 badNonce (the nonce appeared in a request)", actual=describe_response(again))


@check(
    "nonce.spent-by-bad-signature",
    title="A nonce is spent even when its request failed signature verification",
    section="RFC 8555 §6.5",
    level="MUST",
    requirements=["NONCE-14"],
    sentence=_SPENT,
    tags=["account"],
)
def spent_by_bad_signature(ctx: CheckContext) -> None:
    _spent_by(ctx, JwsFault(corrupt_signature=True), "a corrupted signature")


@check(
    "nonce.spent-by-url-mismatch",
    title="A nonce is spent even when its request was rejected for a url mismatch",
    section="RFC 8555 §6.5",
    level="MUST",
    requirements=["NONCE-14"],
    sentence=_SPENT,
    tags=["account"],
)
def spent_by_url_mismatch(ctx: CheckContext) -> None:
    _spent_by(ctx, JwsFault(header_set={"url": ctx.session.url_for("newAccount")}), "a url mismatch")


@check(
    "nonce.invalid-encoding-rejected",
    title="A nonce that is not valid base64url is rejected (400 malformed or badNonce)",
    section="RFC 8555 §6.5.2",
    level="MUST",
    requirements=["NONCE-15"],
    sentence='If the value of a "nonce" header parameter is not valid according to this encoding, then the '
    "verifier MUST reject the JWS as malformed.",
    tags=["account"],
)
def invalid_encoding(ctx: CheckContext) -> None:
    account = ctx.new_account()
    response = _order_with_nonce(ctx, account, "not+base64/url==", "newOrder with nonce 'not+base64/url=='")
    # §6.5.2 says malformed, §6.5 says badNonce for unacceptable nonces: either is right.
    expect_problem(response, ["malformed", "badNonce"], "a nonce that is not base64url", statuses={400})
    ctx.note(f"rejected as {short_type(response)}")


@check(
    "nonce.unprotected-nonce-rejected",
    title="A nonce carried only in an unprotected header is rejected",
    section="RFC 8555 §6.5.2",
    level="MUST",
    requirements=["NONCE-16"],
    sentence='The "nonce" header parameter MUST be carried in the protected header of the JWS.',
    tags=["account"],
)
def unprotected_nonce(ctx: CheckContext) -> None:
    account = ctx.new_account()
    fault = JwsFault(unprotected={"nonce": ctx.session.new_nonce()})
    response = _order_with_nonce(ctx, account, None, "newOrder with the nonce only in an unprotected header", fault)
    expect_rejected(response, "a nonce only in the unprotected header")
    ctx.note(f"rejected with {describe_response(response)}")


not_judged("NONCE-17", "a client SHOULD NOT send Replay-Nonce in requests (§6.5.1); the RFC sets no server "
           "behaviour, so there is nothing a server can get wrong")
