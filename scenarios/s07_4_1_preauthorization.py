"""Pre-authorization (RFC 8555 §7.4.1): only for servers whose directory advertises newAuthz."""

from __future__ import annotations

from typing import Any

import httpx

from conformance.acme import Account, SetupFailed, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.judge import expect_rejected, expect_status, fail
from conformance.recorder import noting
from conformance.registry import check, not_judged
from conformance.responders.base import Identifier
from scenarios._validation import wait_authz


def new_authz_request(ctx: CheckContext, account: Account, identifier: dict[str, Any]) -> httpx.Response:
    url = ctx.require_resource("newAuthz")
    with noting(f"newAuthz for {identifier.get('type')} {identifier.get('value')}"):
        return ctx.session.signed(url, {"identifier": identifier}, account)


@check(
    "preauth.creates-pending-authz",
    title="newAuthz answers 201 with Location and a pending authorization with challenges",
    section="RFC 8555 §7.4.1",
    level="MUST",
    requirements=["PRE-1"],
    sentence='"status" MUST be "pending" unless the server has out-of-band information about the client\'s '
    "authorization status ... The server allocates a new URL for this authorization and returns a 201 (Created) "
    "response with the authorization URL in the Location header field and the JSON authorization object in the "
    "body.",
    tags=["account"],
)
def preauth_creates(ctx: CheckContext) -> None:
    ctx.require_resource("newAuthz")
    account = ctx.new_account()
    name = ctx.new_domain("preauth")
    response = new_authz_request(ctx, account, {"type": "dns", "value": name})
    expect_status(response, {201}, "newAuthz")
    if not response.headers.get("Location"):
        raise fail("newAuthz gave no Location", expected="Location: the authorization URL", actual="(absent)")
    body = json_or_none(response)
    if not isinstance(body, dict) or body.get("status") not in ("pending", "valid"):
        raise fail("newAuthz did not return a pending authorization", expected='status "pending"',
                   actual=describe_response(response))
    if body.get("status") == "valid":
        ctx.note("the authorization was born valid (allowed with out-of-band information)")
    challenges = body.get("challenges")
    if body.get("status") == "pending" and (not isinstance(challenges, list) or not challenges):
        raise fail("the pending pre-authorization offers no challenge", expected="a non-empty challenges array",
                   actual=repr(challenges))


@check(
    "preauth.wildcard-refused",
    title="newAuthz for a wildcard name is refused",
    section="RFC 8555 §7.4.1",
    level="descr.",
    requirements=["PRE-2"],
    sentence="Note that because the identifier in a pre-authorization request is the exact identifier to be "
    "included in the authorization object, pre-authorization cannot be used to authorize issuance of "
    "certificates containing wildcard domain names.",
    tags=["account"],
)
def preauth_wildcard(ctx: CheckContext) -> None:
    ctx.require_resource("newAuthz")
    response = new_authz_request(ctx, ctx.new_account(), {"type": "dns", "value": "*." + ctx.new_domain()})
    expect_rejected(response, "newAuthz for a wildcard")


not_judged("PRE-3", "which names a CA refuses is server policy; the tester cannot know one to ask for")


@check(
    "preauth.unsupported-type-refused",
    title="newAuthz with an unsupported identifier type is refused",
    section="RFC 8555 §7.4.1",
    level="SHOULD",
    requirements=["PRE-4"],
    sentence="Before processing the authorization request, the server SHOULD determine whether it is willing to "
    "issue certificates for the identifier. For example, the server should check that the identifier is of a "
    "supported type.",
    tags=["account"],
)
def preauth_unsupported_type(ctx: CheckContext) -> None:
    ctx.require_resource("newAuthz")
    response = new_authz_request(ctx, ctx.new_account(), {"type": "acme-conformance-unknown", "value": "x"})
    expect_rejected(response, "newAuthz with an unknown identifier type")


@check(
    "preauth.used-by-later-order",
    title="A completed pre-authorization lets a later order for the name be ready without new validation",
    section="RFC 8555 §7.4.1",
    level="descr.",
    requirements=["PRE-5"],
    sentence="Some servers may also wish to enable clients to obtain authorization for an identifier "
    "proactively, outside of the context of a specific issuance. For example, a client ... might wish to obtain "
    "authorization before any virtual servers are created and only create a certificate when a virtual server "
    "starts up.",
    tags=["account", "validation"],
)
def preauth_used_later(ctx: CheckContext) -> None:
    ctx.require_resource("newAuthz")
    ctx.require_challenge_type("http-01")
    account = ctx.new_account()
    name = ctx.new_domain("preauth")
    response = new_authz_request(ctx, account, {"type": "dns", "value": name})
    location = response.headers.get("Location")
    body = json_or_none(response)
    if response.status_code != 201 or not location or not isinstance(body, dict):
        raise SetupFailed(f"newAuthz failed ({describe_response(response)})")
    if body.get("status") == "pending":
        ctx.session.respond_to_challenge(account, body, "http-01", ctx.backend)
        body = wait_authz(ctx, account, location)
    if body.get("status") != "valid":
        raise SetupFailed(f"the pre-authorization became {body.get('status')!r}")
    order = ctx.session.create_order(account, [Identifier("dns", name)])
    urls = order.body.get("authorizations") or []
    statuses = [a.get("status") for _, a in ctx.session.authorizations(order)]
    if location not in urls and not all(s == "valid" for s in statuses):
        raise fail("the order for a pre-authorized name needs a new validation",
                   expected="the pre-authorization listed, or only valid authorizations",
                   actual=f"authorizations {urls} with statuses {statuses}")

