"""Challenges in general (RFC 8555 §7.1.5, §7.5.1, §8, §8.1, §8.2): objects, responses, failures, retries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from conformance.acme import SetupFailed, describe_response, json_or_none, provision_challenge
from conformance.context import CheckContext
from conformance.judge import expect_rejected, fail
from conformance.model import Warned
from conformance.recorder import noting
from conformance.registry import check, not_judged
from conformance.responders.base import Identifier, key_authorization
from scenarios._validation import (
    CHALLENGE_STATUSES,
    PROBLEM_PREFIX,
    attempt,
    builtin,
    challenge_in,
    expect_failed,
    expect_valid,
    new_authz,
    other_key_authz,
    post_challenge,
    wait_authz,
)

_VAL = ["account", "validation"]
TOKEN = re.compile(r"^[A-Za-z0-9_-]{22,}$")  # base64url, no padding, >= 128 bits (22 characters)
TOKEN_TYPES = {"http-01", "dns-01", "tls-alpn-01"}


def challenge_sample(ctx: CheckContext) -> Iterator[tuple[str, Any]]:
    """(what, challenge) for every challenge of a fresh authorization, then of a validated and a failed one.

    A generator, so a check judges the pending challenges before using them to validate."""
    account, _, _, authz = new_authz(ctx)
    yield from (("pending", c) for c in authz.get("challenges") or [])
    ok = attempt(ctx, "http-01", account=account)
    yield from (("after a successful validation", c) for c in ok.authz.get("challenges") or [])
    bad = attempt(ctx, "http-01", account=account, key_authz=other_key_authz(ctx))
    yield from (("after a failed validation", c) for c in bad.authz.get("challenges") or [])


@check(
    "challenge.required-fields",
    title="Challenges carry type, url, status (validated once valid; token for the RFC's types)",
    section="RFC 8555 §8",
    level="REQUIRED",
    requirements=["CH-1"],
    sentence="type (required, string) ... url (required, string) ... status (required, string) ... validated "
    '(optional, string): ... This field is REQUIRED if the "status" field is "valid". token (required, string) '
    "(§8.3, §8.4; RFC 8737 §3).",
    tags=_VAL,
)
def challenge_required_fields(ctx: CheckContext) -> None:
    for what, item in challenge_sample(ctx):
        if not isinstance(item, dict):
            raise fail(f"a challenge ({what}) is not an object", expected="an object", actual=repr(item)[:200])
        missing = [k for k in ("type", "url", "status") if not isinstance(item.get(k), str)]
        if item.get("status") == "valid" and not isinstance(item.get("validated"), str):
            missing.append("validated")
        if item.get("type") in TOKEN_TYPES and not isinstance(item.get("token"), str):
            missing.append("token")
        if missing:
            raise fail(f"a challenge ({what}) lacks required fields", expected="type, url, status (+validated, token)",
                       actual=f"{item.get('type')!r} without {', '.join(missing)}")


@check(
    "challenge.status-values",
    title="Challenge status is one of pending, processing, valid, invalid",
    section="RFC 8555 §8",
    level="REQUIRED",
    requirements=["CH-2"],
    sentence='status (required, string): The status of this challenge. Possible values are "pending", '
    '"processing", "valid", and "invalid" (see Section 7.1.6).',
    tags=_VAL,
)
def challenge_status_values(ctx: CheckContext) -> None:
    for what, item in challenge_sample(ctx):
        status = item.get("status") if isinstance(item, dict) else None
        if status not in CHALLENGE_STATUSES:
            raise fail(f"a challenge ({what}) has a status outside the RFC's set",
                       expected=", ".join(sorted(CHALLENGE_STATUSES)), actual=repr(status))


@check(
    "challenge.response-returns-challenge",
    title="POST {} to a challenge returns 200 with the updated challenge object (and Link up)",
    section="RFC 8555 §7.5.1",
    level="descr.",
    requirements=["CH-3"],
    sentence="The server provides a 200 (OK) response with the updated challenge object as its body.",
    tags=_VAL,
)
def challenge_response_returns_challenge(ctx: CheckContext) -> None:
    account, _, url, authz = new_authz(ctx)
    challenge = challenge_in(authz, "http-01")
    token = str(challenge.get("token"))
    ident = Identifier(str(authz["identifier"]["type"]), str(authz["identifier"]["value"]))
    provision_challenge(ctx.backend, "http-01", ident, token, key_authorization(token, account.key.thumbprint()))
    with noting("answer the http-01 challenge with {}"):
        response = ctx.session.signed(str(challenge.get("url")), {}, account)
    body = json_or_none(response)
    if response.status_code != 200 or not isinstance(body, dict):
        raise fail("the challenge response was not answered 200 with an object", expected="HTTP 200, a challenge",
                   actual=describe_response(response))
    if "identifier" in body or body.get("type") != challenge.get("type") or body.get("url") != challenge.get("url"):
        raise fail("the answer is not the challenge object", expected=f"the {challenge.get('type')} challenge "
                   f"{challenge.get('url')}", actual=str(body)[:300])
    if body.get("status") not in CHALLENGE_STATUSES:
        raise fail("the returned challenge has no valid status", expected="a challenge status",
                   actual=repr(body.get("status")))
    wait_authz(ctx, account, url)
    links = ", ".join(response.headers.get_list("Link"))
    if 'rel="up"' not in links and "rel=up" not in links:
        raise Warned("the challenge response has no Link rel=\"up\" to its authorization (§7.5.1 example)",
                     expected='Link: <authz>;rel="up"', actual=links or "(no Link header)")


@check(
    "challenge.unknown-response-fields-ignored",
    title="Unknown fields in a challenge response are ignored (validation proceeds as for {})",
    section="RFC 8555 §7.5.1",
    level="MUST",
    requirements=["CH-4"],
    sentence="The server MUST ignore any fields in the response object that are not specified as response fields "
    "for this type of challenge. Note that the challenges in this document do not define any response fields.",
    tags=_VAL,
)
def challenge_unknown_fields(ctx: CheckContext) -> None:
    account, _, url, authz = new_authz(ctx)
    challenge = challenge_in(authz, "http-01")
    token = str(challenge.get("token"))
    ident = Identifier(str(authz["identifier"]["type"]), str(authz["identifier"]["value"]))
    provision_challenge(ctx.backend, "http-01", ident, token, key_authorization(token, account.key.thumbprint()))
    with noting("answer the challenge with an unknown field"):
        response = ctx.session.signed(str(challenge.get("url")), {"x-unknown": "v"}, account)
    if response.status_code != 200:
        raise fail("a challenge response with an unknown field was refused", expected="HTTP 200 (field ignored)",
                   actual=describe_response(response))
    final = wait_authz(ctx, account, url)
    if final.get("status") != "valid":
        raise fail("validation did not succeed after a response with an unknown field", expected="valid",
                   actual=repr(final.get("status")))


@check(
    "challenge.non-object-response-rejected",
    title="A challenge response that is not a JSON object is refused with an HTTP error",
    section="RFC 8555 §7.5.1",
    level="MUST",
    requirements=["CH-5"],
    sentence="If the client's response is invalid for any reason or does not provide the server with appropriate "
    "information to validate the challenge, then the server MUST return an HTTP error.",
    tags=["account"],
)
def challenge_non_object(ctx: CheckContext) -> None:
    account, _, _, authz = new_authz(ctx)
    challenge = (authz.get("challenges") or [{}])[0]
    for payload in ([], "x"):
        with noting(f"answer the challenge with {payload!r}"):
            response = ctx.session.signed(str(challenge.get("url")), payload, account)
        expect_rejected(response, f"challenge response {payload!r}")


@check(
    "challenge.token-syntax",
    title="Challenge tokens are base64url without padding, at least 128 bits, and not reused",
    section="RFC 8555 §8.3",
    level="MUST",
    requirements=["CH-7", "ALPN-1"],
    sentence="token (required, string): A random value that uniquely identifies the challenge. This value MUST have "
    "at least 128 bits of entropy. It MUST NOT contain any characters outside the base64url alphabet and MUST NOT "
    "include base64 padding characters (\"=\").",
    tags=["account"],
)
def challenge_token_syntax(ctx: CheckContext) -> None:
    owners: dict[str, str] = {}
    account = ctx.new_account()
    for _ in range(3):
        _, _, url, authz = new_authz(ctx, account=account)
        for item in authz.get("challenges") or []:
            if not isinstance(item, dict) or item.get("type") not in TOKEN_TYPES:
                continue
            token = item.get("token")
            if not isinstance(token, str) or not TOKEN.match(token):
                raise fail(f"the {item.get('type')} token is not base64url of at least 128 bits",
                           expected="[A-Za-z0-9_-]{22,}, no padding", actual=repr(token))
            if owners.setdefault(token, url) != url:
                raise fail("the same token appears in two authorizations", expected="a fresh token per challenge",
                           actual=f"{token} in {owners[token]} and {url}")


@check(
    "challenge.retry-state-exposed",
    title="A challenge kept processing after a failed attempt shows error and Retry-After (or fails for good)",
    section="RFC 8555 §8.2",
    level="MUST",
    requirements=["CH-8"],
    sentence='The server MUST provide information about its retry state to the client via the "error" field in '
    "the challenge and the Retry-After HTTP header field in response to requests to the challenge resource. The "
    'server MUST add an entry to the "error" field in the challenge after each failed validation query.',
    tags=_VAL,
)
def challenge_retry_state(ctx: CheckContext) -> None:
    responders = builtin(ctx)
    account, _, url, authz = new_authz(ctx)
    challenge = challenge_in(authz, "http-01")
    name = str(authz["identifier"]["value"])
    token = str(challenge.get("token"))
    responders.add_http01(token, key_authorization(token, account.key.thumbprint()))
    # Nothing listens on 127.0.0.2: the first attempts meet a closed port ("responder down").
    responders.dns.set_a(name, "127.0.0.2")
    try:
        post_challenge(ctx, account, challenge)
        with noting("fetch the challenge after a failed attempt"):
            seen = ctx.session.poll(str(challenge["url"]), account,
                                    lambda b: b.get("status") != "pending" and (
                                        b.get("status") != "processing" or "error" in b), "challenge")
    finally:
        responders.dns.set_a(name, responders.dns.a_address)
    response = ctx.recorder.exchanges[-1]
    if seen.get("status") == "processing":
        if not isinstance(seen.get("error"), dict):
            raise fail("a challenge retried after a failure shows no error", expected="an error entry",
                       actual=str(seen)[:300])
        if response.response_header("Retry-After") is None:
            raise fail("a challenge the server is retrying has no Retry-After", expected="a Retry-After header",
                       actual="(absent)")
        final = wait_authz(ctx, account, url, budget=20.0)
        ctx.note(f"the server retried; the authorization ended {final.get('status')!r}")
        return
    if seen.get("status") == "invalid":
        ctx.note("the server does not retry: the challenge went straight to invalid (retrying is SHOULD, §8.2)")
        if not isinstance(seen.get("error"), dict):
            raise fail("the failed challenge has no error", expected="an error entry", actual=str(seen)[:300])
        return
    raise fail("validation against a closed port did not fail", expected="invalid, or processing with retries",
               actual=f"status {seen.get('status')!r}")


not_judged("CH-9", "immediate retry on a re-POST and its rate limiting are timing properties of a retrying "
           "server; Pebble does not retry, and a black-box timing judgement would be flaky")


@check(
    "challenge.repost-after-final",
    title="POSTing again to a finished challenge gives 200 with the challenge or a 4xx problem, never a 5xx",
    section="RFC 8555 §7.5.1",
    level="SHOULD",
    requirements=["CH-10"],
    sentence="When the server responds with an error status, it SHOULD provide additional information using a "
    "problem document [RFC7807] (§6.7); re-sending a response to a finished challenge is not specified.",
    tags=_VAL,
)
def challenge_repost(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01")
    expect_valid(result, "set-up validation")
    with noting("POST {} again to the valid challenge"):
        response = ctx.session.signed(str(result.challenge.get("url")), {}, result.account)
    if response.status_code == 200:
        body = json_or_none(response)
        if not isinstance(body, dict) or body.get("status") != "valid":
            raise fail("the re-POST answer is not the (still valid) challenge", expected="the valid challenge",
                       actual=describe_response(response))
        return
    ptype = (json_or_none(response) or {}).get("type") if isinstance(json_or_none(response), dict) else None
    if not 400 <= response.status_code < 500 or not isinstance(ptype, str):
        raise fail("re-POSTing a valid challenge gave neither 200 nor a 4xx problem document",
                   expected="HTTP 200 with the challenge, or a 4xx problem", actual=describe_response(response))


@check(
    "challenge.key-authorization-of-current-key",
    title="Only the key authorization with the account key's thumbprint validates",
    section="RFC 8555 §8.1",
    level="descr.",
    requirements=["CH-11"],
    sentence="keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)) ... the server verifies that the "
    "key authorization ... matches (§8.3: 'Verify that key authorization provided by the HTTP server matches the "
    "key authorization stored by the server').",
    tags=_VAL,
)
def challenge_current_key(ctx: CheckContext) -> None:
    wrong = attempt(ctx, "http-01", key_authz=other_key_authz(ctx))
    if wrong.authz.get("status") == "valid":
        raise fail("a key authorization with another key's thumbprint validated", expected="invalid",
                   actual="valid")
    right = attempt(ctx, "http-01")
    expect_valid(right, "the correct key authorization")


@check(
    "challenge.failure-has-error",
    title="A failed validation leaves challenge and authorization invalid with an error problem, order invalid",
    section="RFC 8555 §8",
    level="SHOULD",
    requirements=["CH-12", "SM-7"],
    sentence='error (optional, object): Error that occurred while the server was validating the challenge, if any, '
    'structured as a problem document [RFC7807]. ... A challenge object with an error MUST have status equal to '
    '"invalid".',
    tags=_VAL,
)
def challenge_failure_error(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01", key_authz=other_key_authz(ctx))
    expect_failed(result, {"incorrectResponse", "unauthorized"}, "a wrong key authorization")
    error = result.challenge["error"]
    if not str(error["type"]).startswith(PROBLEM_PREFIX):
        raise fail("the challenge error type is not an ACME URN", expected=PROBLEM_PREFIX + "...",
                   actual=str(error["type"]))
    order = ctx.session.refresh(result.order)
    if order.status != "invalid":
        raise fail("the order with the failed authorization is not invalid", expected="invalid",
                   actual=repr(order.status))


@check(
    "challenge.success-propagates",
    title="A valid challenge makes its authorization valid and the order ready",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["CH-13"],
    sentence='If one of the challenges listed in the authorization transitions to the "valid" state, then the '
    'authorization also changes to the "valid" state. ... Once all of the authorizations listed in the order '
    'object are in the "valid" state, the order transitions to the "ready" state.',
    tags=_VAL,
)
def challenge_success(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01")
    with noting("fetch the challenge"):
        challenge = json_or_none(ctx.session.post_as_get(str(result.challenge.get("url") or result.response.get("url")),
                                                         result.account))
    if not isinstance(challenge, dict) or challenge.get("status") != "valid":
        raise fail("the challenge is not valid after a successful validation", expected="valid",
                   actual=repr(challenge.get("status") if isinstance(challenge, dict) else challenge))
    expect_valid(result, "after the challenge became valid")
    try:
        order = ctx.session.poll(result.order.url, result.account, lambda b: b.get("status") != "pending",
                                 "order", budget=5.0)
    except SetupFailed as exc:  # still pending after 5 s of polling: the authorization never counted
        raise fail("the order stayed pending although its authorization is valid", expected="ready",
                   actual=exc.message) from exc
    if order.get("status") != "ready":
        raise fail("the order is not ready although all its authorizations are valid", expected="ready",
                   actual=repr(order.get("status")))

