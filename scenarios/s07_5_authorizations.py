"""Authorization objects (RFC 8555 §7.1.4), their life during validation (§7.5.1) and deactivation (§7.5.2)."""

from __future__ import annotations

from typing import Any

from conformance.acme import Account, SetupFailed, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.csr import make_csr
from conformance.judge import expect_rejected, expect_status, fail
from conformance.recorder import noting
from conformance.registry import check
from conformance.responders.base import Identifier
from scenarios._validation import (
    AUTHZ_STATUSES,
    attempt,
    new_authz,
    other_key_authz,
    wait_authz,
)

_VAL = ["account", "validation"]


def authz_lifecycle(ctx: CheckContext) -> list[tuple[str, str, dict[str, Any]]]:
    """(what, url, body) of authorizations at each status a client meets: pending, valid, invalid, deactivated."""
    seen: list[tuple[str, str, dict[str, Any]]] = []
    account, _, url, pending = new_authz(ctx)
    seen.append(("a new authorization", url, pending))
    ok = attempt(ctx, "http-01", account=account)
    seen.append(("a validated authorization", ok.authz_url, ok.authz))
    bad = attempt(ctx, "http-01", account=account, key_authz=other_key_authz(ctx))
    seen.append(("an authorization whose validation failed", bad.authz_url, bad.authz))
    with noting("deactivate the pending authorization"):
        ctx.session.signed(url, {"status": "deactivated"}, account)
    seen.append(("a deactivated authorization", url, ctx.session.fetch_json(url, account, "authorization")))
    return seen


def _field_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    identifier = body.get("identifier")
    if not (isinstance(identifier, dict) and isinstance(identifier.get("type"), str)
            and isinstance(identifier.get("value"), str)):
        problems.append(f"identifier is {identifier!r}, not {{type, value}} strings")
    if not isinstance(body.get("status"), str):
        problems.append("no status string")
    if not isinstance(body.get("challenges"), list):
        problems.append("no challenges array")
    if body.get("status") == "valid" and not isinstance(body.get("expires"), str):
        problems.append("status valid without expires")
    return problems


@check(
    "authz.required-fields",
    title="Authorizations carry identifier, status and challenges (and expires once valid)",
    section="RFC 8555 §7.1.4",
    level="REQUIRED",
    requirements=["AZ-1"],
    sentence="identifier (required, object) ... status (required, string) ... expires (optional, string): ... "
    'This field is REQUIRED for objects with "valid" in the "status" field. ... challenges (required, array of '
    "objects)",
    tags=_VAL,
)
def authz_required_fields(ctx: CheckContext) -> None:
    for what, url, body in authz_lifecycle(ctx):
        problems = _field_problems(body)
        if problems:
            raise fail(f"{what} lacks required fields", expected="the required members of RFC 8555 §7.1.4",
                       actual=f"{url}: " + "; ".join(problems))


@check(
    "authz.status-values",
    title="Authorization status is one of pending, valid, invalid, deactivated, expired, revoked",
    section="RFC 8555 §7.1.4",
    level="REQUIRED",
    requirements=["AZ-2"],
    sentence='status (required, string): The status of this authorization. Possible values are "pending", '
    '"valid", "invalid", "deactivated", "expired", and "revoked".',
    tags=_VAL,
)
def authz_status_values(ctx: CheckContext) -> None:
    for what, url, body in authz_lifecycle(ctx):
        if body.get("status") not in AUTHZ_STATUSES:
            raise fail(f"{what} has a status outside the RFC's set", expected=", ".join(sorted(AUTHZ_STATUSES)),
                       actual=f"{url}: status {body.get('status')!r}")


@check(
    "authz.wildcard-base-name",
    title="A wildcard order's authorization names the base domain and has wildcard: true",
    section="RFC 8555 §7.1.3",
    level="MUST",
    requirements=["AZ-3"],
    sentence='An authorization returned by the server for a wildcard domain name identifier MUST NOT include the '
    'asterisk and full stop ("*.") prefix in the authorization identifier value. The returned authorization MUST '
    'include the optional "wildcard" field, with a value of true.',
    tags=["account"],
)
def authz_wildcard(ctx: CheckContext) -> None:
    base = ctx.new_domain("wild")
    _, _, url, authz = new_authz(ctx, [Identifier("dns", "*." + base)])
    value = (authz.get("identifier") or {}).get("value")
    if not isinstance(value, str) or value.startswith("*") or value.lower() != base:
        raise fail("the wildcard authorization does not name the base domain", expected=base, actual=repr(value))
    if authz.get("wildcard") is not True:
        raise fail('the wildcard authorization lacks "wildcard": true', expected="wildcard: true",
                   actual=f"wildcard: {authz.get('wildcard')!r}")
    types = sorted(str(c.get("type")) for c in authz.get("challenges") or [] if isinstance(c, dict))
    ctx.note(f"challenge types offered for the wildcard: {', '.join(types) or '(none)'} "
             "(the RFC leaves the choice to the server; dns-01 only is usual)")
    _, _, _, plain = new_authz(ctx)
    if "wildcard" in plain:
        raise fail('a non-wildcard authorization has a "wildcard" field', expected="no wildcard member "
                   '("For other authorizations, it MUST be absent")', actual=f"wildcard: {plain['wildcard']!r}")


@check(
    "authz.dns-identifier-encoding",
    title="DNS identifiers in authorizations are in certificate form: ASCII (A-labels), no trailing dot",
    section="RFC 8555 §7.1.4",
    level="MUST",
    requirements=["AZ-4"],
    sentence="The domain name MUST be encoded in the form in which it would appear in a certificate. That is, it "
    "MUST be encoded according to the rules in Section 7 of [RFC5280].",
    tags=["account"],
)
def authz_dns_encoding(ctx: CheckContext) -> None:
    wanted = [ctx.new_domain(), "xn--bcher-kva." + ctx.new_domain()]
    for name in wanted:
        _, _, url, authz = new_authz(ctx, [Identifier("dns", name)])
        value = (authz.get("identifier") or {}).get("value")
        if not isinstance(value, str) or not value.isascii() or value.endswith(".") or value.lower() != name:
            raise fail("an authorization's DNS identifier is not the name in certificate form", expected=name,
                       actual=f"{url}: {value!r}")


@check(
    "authz.pending-lists-challenges",
    title="A pending authorization offers at least one challenge, each with type, url and status",
    section="RFC 8555 §7.1.4",
    level="REQUIRED",
    requirements=["AZ-5"],
    sentence="challenges (required, array of objects): For pending authorizations, the challenges that the client "
    "can fulfill in order to prove possession of the identifier.",
    tags=["account"],
)
def authz_pending_challenges(ctx: CheckContext) -> None:
    _, _, url, authz = new_authz(ctx)
    challenges = authz.get("challenges")
    if not isinstance(challenges, list) or not challenges:
        raise fail("a pending authorization offers no challenge", expected="a non-empty challenges array",
                   actual=f"challenges: {challenges!r}")
    for item in challenges:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("type", "url", "status")):
            raise fail("a challenge lacks type, url or status", expected="type, url and status strings",
                       actual=repr(item)[:300])


@check(
    "authz.valid-after-validation",
    title="After a successful validation the authorization is valid, has expires, and keeps the valid challenge",
    section="RFC 8555 §7.5.1",
    level="REQUIRED",
    requirements=["AZ-6"],
    sentence='If the final state is "valid", then the server MUST include an "expires" field (§7.5.1). '
    "challenges ... For valid authorizations, the challenge that was validated (§7.1.4). validated ... This field "
    'is REQUIRED if the "status" field is "valid" (§8).',
    tags=_VAL,
)
def authz_valid_after_validation(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01")
    if result.authz.get("status") != "valid":
        raise fail("the authorization did not become valid", expected="valid",
                   actual=f"{result.authz.get('status')!r}")
    if not isinstance(result.authz.get("expires"), str):
        raise fail("the valid authorization has no expires", expected="expires", actual="absent")
    challenge = result.challenge
    if challenge.get("status") != "valid" or not isinstance(challenge.get("validated"), str):
        raise fail("the validated challenge is not shown valid with a validated timestamp",
                   expected="the http-01 challenge, status valid, with validated",
                   actual=repr(challenge)[:300] or "the challenge was removed")


@check(
    "authz.invalid-keeps-challenge",
    title="After a failed validation the authorization is invalid and still shows the invalid challenge",
    section="RFC 8555 §7.5.1",
    level="SHOULD NOT",
    requirements=["AZ-7"],
    sentence='challenges ... For invalid authorizations, the challenge that was attempted and failed (§7.1.4). '
    'The server SHOULD NOT remove challenges with status "invalid" (§7.5.1).',
    tags=_VAL,
)
def authz_invalid_keeps_challenge(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01", key_authz=other_key_authz(ctx))
    if result.authz.get("status") != "invalid":
        raise fail("a failed validation did not make the authorization invalid", expected="invalid",
                   actual=repr(result.authz.get("status")))
    if result.challenge.get("status") != "invalid":
        raise fail("the failed challenge was removed from the authorization or is not invalid",
                   expected="the http-01 challenge with status invalid",
                   actual=repr(result.challenge)[:300] if result.challenge else "removed")


@check(
    "authz.fetch-during-validation",
    title="POST-as-GET of the authorization right after answering a challenge returns 200",
    section="RFC 8555 §7.5.1",
    level="MUST",
    requirements=["AZ-8"],
    sentence="In responding to poll requests while the validation is still in progress, the server MUST return a "
    "200 (OK) response and MAY include a Retry-After header field to suggest a polling interval to the client.",
    tags=_VAL,
)
def authz_fetch_during_validation(ctx: CheckContext) -> None:
    account, _, url, authz = new_authz(ctx)
    ctx.session.respond_to_challenge(account, authz, "http-01", ctx.backend)
    with noting("POST-as-GET the authorization while validation may be in progress"):
        response = ctx.session.post_as_get(url, account)
    expect_status(response, {200}, "POST-as-GET of an authorization under validation")
    body = json_or_none(response)
    if not isinstance(body, dict) or body.get("status") not in AUTHZ_STATUSES:
        raise fail("the authorization fetched during validation is not an authorization object",
                   expected="an authorization with a status", actual=describe_response(response))
    wait_authz(ctx, account, url)


def _deactivate(ctx: CheckContext, url: str, account: Account, what: str):  # type: ignore[no-untyped-def]
    with noting(what):
        return ctx.session.signed(url, {"status": "deactivated"}, account)


@check(
    "authz.deactivation",
    title='POST {"status": "deactivated"} deactivates a pending authorization (200, shown deactivated)',
    section="RFC 8555 §7.5.2",
    level="descr.",
    requirements=["AZD-1"],
    sentence='If the server accepts the deactivation, it should reply with a 200 (OK) status code and the updated '
    "contents of the authorization object.",
    tags=["account", "destructive"],
)
def authz_deactivation(ctx: CheckContext) -> None:
    account, _, url, _ = new_authz(ctx)
    response = _deactivate(ctx, url, account, "deactivate a pending authorization")
    expect_status(response, {200}, "authorization deactivation")
    body = json_or_none(response)
    if not isinstance(body, dict) or body.get("status") != "deactivated":
        raise fail("the deactivation answer is not the updated authorization", expected="status deactivated",
                   actual=describe_response(response) + f", status {body.get('status') if isinstance(body, dict) else None!r}")
    later = ctx.session.fetch_json(url, account, "authorization")
    if later.get("status") != "deactivated":
        raise fail("the authorization is not deactivated when fetched again", expected="deactivated",
                   actual=repr(later.get("status")))


@check(
    "authz.deactivation-needs-owner",
    title="Another account cannot deactivate an authorization",
    section="RFC 8555 §7.5.2",
    level="MUST",
    requirements=["AZD-2"],
    sentence="The server MUST verify that the request is signed by the account key corresponding to the account "
    "that owns the authorization.",
    tags=["account", "two-accounts"],
)
def authz_deactivation_needs_owner(ctx: CheckContext) -> None:
    owner, _, url, _ = new_authz(ctx)
    intruder = ctx.new_account()
    response = _deactivate(ctx, url, intruder, "another account deactivates the authorization")
    expect_rejected(response, "deactivation by another account")
    after = ctx.session.fetch_json(url, owner, "authorization")
    if after.get("status") != "pending":
        raise fail("the authorization changed after another account's deactivation attempt", expected="pending",
                   actual=repr(after.get("status")))


@check(
    "authz.deactivated-not-usable",
    title="A deactivated authorization cannot be used: finalize fails and a new order gets a fresh authorization",
    section="RFC 8555 §7.5.2",
    level="MUST NOT",
    requirements=["AZD-3"],
    sentence="The server MUST NOT treat deactivated authorization objects as sufficient for issuing certificates.",
    tags=["account", "validation", "destructive"],
)
def authz_deactivated_not_usable(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01")
    if result.authz.get("status") != "valid":
        raise SetupFailed(f"validation did not succeed ({result.authz.get('status')!r})")
    order = ctx.session.refresh(result.order)
    response = _deactivate(ctx, result.authz_url, result.account, "deactivate the valid authorization")
    expect_status(response, {200}, "deactivation of a valid authorization")
    names = [str(i["value"]) for i in order.body.get("identifiers", []) if isinstance(i, dict)]
    csr, _ = make_csr(names)
    with noting("finalize the order whose authorization was deactivated"):
        finalize = ctx.session.finalize_request(order, csr)
    body = json_or_none(finalize)
    if finalize.status_code < 400:
        refreshed = ctx.session.poll(order.url, result.account,
                                     lambda b: b.get("status") != "processing", "order")
        if refreshed.get("status") == "valid" or isinstance(refreshed.get("certificate"), str) or (
                isinstance(body, dict) and body.get("status") in ("valid", "processing")):
            raise fail("finalize with a deactivated authorization was accepted", expected="an error (orderNotReady)",
                       actual=f"{describe_response(finalize)}; order then {refreshed.get('status')!r}")
    again = ctx.session.create_order(result.account, [Identifier("dns", n) for n in names])
    urls = again.body.get("authorizations") or []
    if result.authz_url in urls:
        raise fail("a new order reuses the deactivated authorization", expected="a new pending authorization",
                   actual=f"authorizations: {urls}")
    fresh = ctx.session.authorizations(again)
    if any(a.get("status") == "valid" for _, a in fresh):
        raise fail("a new order for the name got a valid authorization without validation",
                   expected="a pending authorization", actual=str([a.get("status") for _, a in fresh]))


@check(
    "authz.invalid-stays-invalid",
    title="Deactivating an invalid authorization does not change it (invalid is final)",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["AZD-4"],
    sentence='If the client attempts to fulfill a challenge and fails ... the authorization transitions to the '
    '"invalid" state. Once the authorization is in the "valid" state, it can expire ("expired"), be deactivated '
    'by the client ("deactivated" ...) (§7.1.6; the diagram has no transition out of "invalid").',
    tags=_VAL,
)
def authz_invalid_stays_invalid(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01", key_authz=other_key_authz(ctx))
    if result.authz.get("status") != "invalid":
        raise SetupFailed(f"the failing validation left the authorization {result.authz.get('status')!r}")
    response = _deactivate(ctx, result.authz_url, result.account, "deactivate an invalid authorization")
    body = json_or_none(response)
    if response.status_code == 200 and isinstance(body, dict) and body.get("status") != "invalid":
        raise fail("the invalid authorization left its final state", expected="a 4xx, or 200 still invalid",
                   actual=f"HTTP 200, status {body.get('status')!r}")
    if not (response.status_code == 200 or 400 <= response.status_code < 500):
        raise fail("deactivating an invalid authorization gave neither 200 nor a 4xx error",
                   expected="a 4xx, or 200 still invalid", actual=describe_response(response))
    after = ctx.session.fetch_json(result.authz_url, result.account, "authorization")
    if after.get("status") != "invalid":
        raise fail("the invalid authorization changed status", expected="invalid", actual=repr(after.get("status")))


@check(
    "authz.update-only-deactivation",
    title='Authorization updates other than status "deactivated" are rejected',
    section="RFC 8555 §7.5.2",
    level="descr.",
    requirements=["AZD-5"],
    sentence='it may request that the server deactivate each authorization associated with it by sending POST '
    'requests with the static object {"status": "deactivated"} to each authorization URL (no other update is '
    "defined).",
    tags=["account"],
)
def authz_update_only_deactivation(ctx: CheckContext) -> None:
    account, _, url, _ = new_authz(ctx)
    for status in ("valid", "foo"):
        with noting(f'update the authorization to status {status!r}'):
            response = ctx.session.signed(url, {"status": status}, account)
        expect_rejected(response, f'authorization update to status "{status}"')
    after = ctx.session.fetch_json(url, account, "authorization")
    if after.get("status") != "pending":
        raise fail("a rejected update changed the authorization", expected="pending", actual=repr(after.get("status")))
