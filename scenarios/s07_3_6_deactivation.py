"""Account deactivation (RFC 8555 §7.3.6) and its effect on later requests.

Every check deactivates only an account it created itself.
"""

from __future__ import annotations

import httpx

from conformance.acme import Account, SetupFailed, describe_response, json_or_none, problem_type
from conformance.context import CheckContext
from conformance.csr import make_csr
from conformance.judge import (
    expect_json_object,
    expect_problem,
    expect_rejected,
    expect_status,
    fail,
    full_type,
)
from conformance.jws import AccountKey
from conformance.model import Warned
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._account_helpers import account_object, is_success, mailto, new_account_raw

_UNAUTHORIZED_SENTENCE = (
    "If a server receives a POST or POST-as-GET from a deactivated account, it MUST return an error response with "
    'status code 401 (Unauthorized) and type "urn:ietf:params:acme:error:unauthorized".'
)


def _deactivate(ctx: CheckContext, account: Account) -> httpx.Response:
    with noting("deactivate the account"):
        return ctx.session.signed(account.url, {"status": "deactivated"}, account)


def _deactivated(ctx: CheckContext, account: Account) -> None:
    response = _deactivate(ctx, account)
    if response.status_code != 200:
        raise SetupFailed(f"the deactivation was refused ({describe_response(response)})")


def _expect_unauthorized(responses: list[tuple[str, httpx.Response]]) -> None:
    for what, response in responses:
        expect_problem(response, ["unauthorized"], f"{what} from a deactivated account", statuses={401})


@check(
    "deactivation.returns-deactivated",
    title='Deactivation answers 200 with the account object showing status "deactivated"',
    section="RFC 8555 §7.3.6",
    level="descr.",
    requirements=["DEACT-1"],
    sentence="If the server accepts the deactivation request, it replies with a 200 (OK) status code and the current "
    "contents of the account object.",
    tags=["account", "destructive"],
)
def returns_deactivated(ctx: CheckContext) -> None:
    account = ctx.new_account()
    response = _deactivate(ctx, account)
    expect_status(response, {200}, "the deactivation request")
    body = expect_json_object(response, "the deactivation response")
    if body.get("status") != "deactivated":
        raise fail("the account object after deactivation is not deactivated", expected='"status": "deactivated"',
                   actual=f"status {body.get('status')!r}")


@check(
    "deactivation.posts-unauthorized",
    title="After deactivation, newOrder, update and finalize get 401 unauthorized",
    section="RFC 8555 §7.3.6",
    level="MUST",
    requirements=["DEACT-2"],
    sentence=_UNAUTHORIZED_SENTENCE,
    tags=["account", "destructive"],
)
def posts_unauthorized(ctx: CheckContext) -> None:
    account = ctx.new_account()
    identifiers = ctx.new_identifiers()
    order = ctx.session.create_order(account, identifiers)
    _deactivated(ctx, account)
    csr_der, _ = make_csr([i.value for i in identifiers])
    responses = []
    with noting("newOrder after deactivation"):
        responses.append(("newOrder", ctx.session.new_order_request(account, ctx.new_identifiers())))
    with noting("account update after deactivation"):
        responses.append(("an account update", ctx.session.signed(account.url, {"contact": [mailto(ctx)]}, account)))
    with noting("finalize after deactivation"):
        responses.append(("finalize", ctx.session.finalize_request(order, csr_der)))
    _expect_unauthorized(responses)


@check(
    "deactivation.post-as-get-unauthorized",
    title="After deactivation, POST-as-GET of account, orders, order and authz get 401 unauthorized",
    section="RFC 8555 §7.3.6",
    level="MUST",
    requirements=["DEACT-3"],
    sentence=_UNAUTHORIZED_SENTENCE,
    tags=["account", "destructive"],
)
def post_as_get_unauthorized(ctx: CheckContext) -> None:
    account = ctx.new_account()
    order = ctx.session.create_order(account, ctx.new_identifiers())
    orders_url = account.body.get("orders")
    authz = order.body.get("authorizations")
    _deactivated(ctx, account)
    targets = [("the account", account.url), ("the order", order.url)]
    if isinstance(orders_url, str):
        targets.append(("the orders list", orders_url))
    if isinstance(authz, list) and authz:
        targets.append(("the authorization", str(authz[0])))
    responses = []
    for what, url in targets:
        with noting(f"POST-as-GET {what} after deactivation"):
            responses.append((f"POST-as-GET of {what}", ctx.session.post_as_get(url, account)))
    _expect_unauthorized(responses)


@check(
    "deactivation.only-by-owner",
    title="Another account cannot deactivate an account",
    section="RFC 8555 §7.3.6",
    level="MUST",
    requirements=["DEACT-4"],
    sentence="The server MUST verify that the request is signed by the account key.",
    tags=["account", "two-accounts", "destructive"],
)
def only_by_owner(ctx: CheckContext) -> None:
    victim = ctx.new_account()
    intruder = ctx.new_account()  # throw-away: a server may apply the request to the signer's own account
    with noting("account B signs a deactivation posted to account A's URL"):
        response = ctx.session.post(victim.url, {"status": "deactivated"}, intruder.key, kid=intruder.url)
    after = account_object(ctx, victim, "account A afterwards")
    if after.get("status") != "valid":
        raise fail("another account deactivated this account", expected='"status": "valid"',
                   actual=f"status {after.get('status')!r}")
    if is_success(response):
        body = json_or_none(response)
        own = isinstance(body, dict) and body.get("orders") == intruder.body.get("orders")
        # Account A is safe; accepting the request at A's URL is still not verifying A's key.
        raise Warned("a deactivation posted to account A's URL but signed by account B was accepted"
                     + (" (it deactivated account B)" if own else ""),
                     expected="a 4xx error", actual=describe_response(response))


@check(
    "deactivation.no-reactivation",
    title="A deactivated account cannot be reactivated",
    section="RFC 8555 §7.3.6",
    level="MUST",
    requirements=["DEACT-5"],
    sentence="ACME does not provide a way to reactivate a deactivated account. ... " + _UNAUTHORIZED_SENTENCE,
    tags=["account", "destructive"],
)
def no_reactivation(ctx: CheckContext) -> None:
    account = ctx.new_account()
    _deactivated(ctx, account)
    with noting('POST {"status": "valid"} after deactivation'):
        response = ctx.session.signed(account.url, {"status": "valid"}, account)
    expect_rejected(response, "reactivating a deactivated account")
    if response.status_code != 401 or problem_type(response) != full_type("unauthorized"):
        # The exact answer is judged by deactivation.posts-unauthorized; here only "no way back" counts.
        ctx.note(f"the refusal was {describe_response(response)} (401 unauthorized is what §7.3.6 names)")
    with noting("newOrder after the reactivation attempt"):
        later = ctx.session.new_order_request(account, ctx.new_identifiers())
    if is_success(later):
        raise fail("the account works again after the reactivation attempt", expected="requests refused",
                   actual=describe_response(later))


@check(
    "deactivation.certificates-not-revoked",
    title="Deactivating an account does not revoke its certificates",
    section="RFC 8555 §7.3.6",
    level="SHOULD NOT",
    requirements=["DEACT-6"],
    sentence="Servers SHOULD NOT revoke certificates issued by the deactivated account, since this could cause "
    "operational disruption for servers using these certificates.",
    tags=["account", "validation", "issuance", "destructive"],
)
def certificates_not_revoked(ctx: CheckContext) -> None:
    ctx.require_resource("revokeCert")
    issuance = ctx.issue()
    _deactivated(ctx, issuance.account)
    with noting("revoke the certificate with its own key after the deactivation"):
        response = ctx.session.revoke_request(issuance.leaf_der, cert_key=AccountKey(issuance.cert_key))
    if problem_type(response) == full_type("alreadyRevoked"):
        raise fail("the certificate was revoked by the account deactivation", expected="HTTP 200 (not yet revoked)",
                   actual=describe_response(response))
    if response.status_code != 200:
        raise SetupFailed(f"revocation by the certificate key failed ({describe_response(response)})")


@check(
    "deactivation.key-no-longer-accepted",
    title="newAccount with a deactivated account's key is refused with unauthorized",
    section="RFC 8555 §7.3.6",
    level="MUST",
    requirements=["ACCT-15"],
    sentence="Once an account is deactivated, the server MUST NOT accept further requests authorized by that "
    "account's key.",
    tags=["account", "destructive"],
)
def key_no_longer_accepted(ctx: CheckContext) -> None:
    account = ctx.new_account()
    _deactivated(ctx, account)
    for only_existing in (False, True):
        what = "newAccount with the deactivated key" + (" (onlyReturnExisting)" if only_existing else "")
        response = new_account_raw(ctx, account.key, what, only_return_existing=only_existing)
        location = response.headers.get("Location")
        if response.status_code == 201 or (is_success(response) and location not in (None, account.url)):
            raise fail(f"{what} created a new account", expected="an unauthorized error",
                       actual=f"{describe_response(response)}, Location {location!r}")
        if is_success(response):
            # §7.3.1 says an existing key gets 200: the two sections conflict; report it softly.
            raise Warned(f"{what} was accepted (§7.3.1 reading) although the key is deactivated (§7.3.6)",
                         expected="an unauthorized error", actual=describe_response(response))
        if problem_type(response) != full_type("unauthorized"):
            raise Warned(f"{what} was refused without the unauthorized type", expected="type unauthorized",
                         actual=describe_response(response))


@check(
    "deactivation.key-change-refused",
    title="A deactivated account cannot change its key",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-2"],
    sentence="1. Validate the POST request belongs to a currently active account, as described in Section 6.",
    tags=["account", "destructive"],
)
def key_change_refused(ctx: CheckContext) -> None:
    ctx.require_resource("keyChange")
    account = ctx.new_account()
    _deactivated(ctx, account)
    new_key = ctx.new_key()
    with noting("keyChange from the deactivated account"):
        response = ctx.session.key_change_request(account, new_key)
    expect_rejected(response, "a keyChange from a deactivated account")
    found = new_account_raw(ctx, new_key, "onlyReturnExisting with the new key", only_return_existing=True)
    if is_success(found):
        raise fail("the deactivated account's key was changed anyway", expected="no account for the new key",
                   actual=describe_response(found))


not_judged("DEACT-7", "cancelling pending orders is not observable: the deactivated account can no longer fetch them")
