"""Account key rollover (RFC 8555 §7.3.5): the happy path and one check per verification step.

Each negative check breaks exactly one part of an otherwise correct keyChange request on its own
throw-away account, then confirms the old key still authenticates (the change was not applied).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from conformance.acme import Account, SetupFailed, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.csr import make_csr
from conformance.judge import expect_rejected, expect_status, fail
from conformance.jws import AccountKey, JwsFault, json_bytes, make_jws
from conformance.model import Warned
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._account_helpers import account_object, is_success, new_account_raw, with_key

_STEPS = (
    "On receiving a keyChange request, the server MUST perform the following steps in addition to the typical JWS "
    "validation: "
)


def _rejected_and_unchanged(ctx: CheckContext, account: Account, response: httpx.Response, what: str) -> None:
    expect_rejected(response, what)
    with noting("the old key still authenticates after the rejected key change"):
        after = ctx.session.post_as_get(account.url, account)
    if after.status_code != 200:
        raise fail(f"{what} was rejected but the account no longer accepts its old key",
                   expected="HTTP 200 with the old key", actual=describe_response(after))


def _negative(ctx: CheckContext, what: str, send: Callable[[Account, AccountKey], httpx.Response]) -> None:
    ctx.require_resource("keyChange")
    account = ctx.new_account()
    new_key = ctx.new_key()
    with noting(what):
        response = send(account, new_key)
    _rejected_and_unchanged(ctx, account, response, what)


@check(
    "keychange.rollover",
    title="A correct keyChange answers 200; then the new key works, the old one does not, the URL stays",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-1"],
    sentence="If all of these checks pass, then the server updates the corresponding account by replacing the old "
    "account key with the new public key and returns status code 200 (OK).",
    tags=["account", "destructive"],
)
def rollover(ctx: CheckContext) -> None:
    ctx.require_resource("keyChange")
    account = ctx.new_account()
    new_key = ctx.new_key()
    with noting("keyChange to a fresh key"):
        response = ctx.session.key_change_request(account, new_key)
    expect_status(response, {200}, "a correct keyChange")
    with noting("POST-as-GET the account with the new key"):
        with_new = ctx.session.post_as_get(account.url, with_key(account, new_key))
    expect_status(with_new, {200}, "POST-as-GET signed with the new key")
    with noting("POST-as-GET the account with the old key"):
        with_old = ctx.session.post_as_get(account.url, account)
    if is_success(with_old):
        raise fail("the old key still authenticates after the key change", expected="an error for the old key",
                   actual=describe_response(with_old))
    found = new_account_raw(ctx, new_key, "newAccount onlyReturnExisting with the new key", only_return_existing=True)
    if found.status_code != 200 or found.headers.get("Location") != account.url:
        raise fail("the new key does not lead to the same account URL", expected=f"HTTP 200, Location {account.url}",
                   actual=f"{describe_response(found)}, Location {found.headers.get('Location')!r}")


@check(
    "keychange.outer-jwk-rejected",
    title="A keyChange whose outer JWS carries jwk instead of kid is rejected",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-2"],
    sentence=_STEPS + "1. Validate the POST request belongs to a currently active account, as described in Section 6.",
    tags=["account"],
)
def outer_jwk_rejected(ctx: CheckContext) -> None:
    def send(account: Account, new_key: AccountKey) -> httpx.Response:
        url = ctx.session.url_for("keyChange")
        inner, _ = make_jws(new_key, {"alg": new_key.alg, "jwk": new_key.public_jwk(), "url": url},
                            json_bytes({"account": account.url, "oldKey": account.key.public_jwk()}))
        return ctx.session.post(url, inner, account.key)  # no kid: the outer JWS names its jwk

    _negative(ctx, "keyChange with jwk in the outer JWS", send)


@check(
    "keychange.outer-payload-not-jws",
    title="A keyChange whose payload is not a JWS is rejected",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-3"],
    sentence=_STEPS + '2. Check that the payload of the JWS is a well-formed JWS object (the "inner JWS").',
    tags=["account"],
)
def outer_payload_not_jws(ctx: CheckContext) -> None:
    def send(account: Account, new_key: AccountKey) -> httpx.Response:
        return ctx.session.signed(ctx.session.url_for("keyChange"),
                                  {"account": account.url, "oldKey": account.key.public_jwk()}, account)

    _negative(ctx, "keyChange whose payload is the bare keyChange object", send)


@check(
    "keychange.inner-needs-jwk",
    title="A keyChange whose inner JWS has kid instead of jwk is rejected",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-4"],
    sentence=_STEPS + '3. Check that the JWS protected header of the inner JWS has a "jwk" field.',
    tags=["account"],
)
def inner_needs_jwk(ctx: CheckContext) -> None:
    def send(account: Account, new_key: AccountKey) -> httpx.Response:
        fault = JwsFault(header_remove=("jwk",), header_set={"kid": account.url})
        return ctx.session.key_change_request(account, new_key, inner_fault=fault)

    _negative(ctx, "keyChange with kid in the inner JWS", send)


@check(
    "keychange.inner-signature-verified",
    title="A keyChange whose inner JWS is not signed by its jwk is rejected",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-5"],
    sentence=_STEPS + '4. Check that the inner JWS verifies using the key in its "jwk" field.',
    tags=["account"],
)
def inner_signature_verified(ctx: CheckContext) -> None:
    claimed = ctx.new_key()

    def send(account: Account, new_key: AccountKey) -> httpx.Response:
        # Signed by new_key, but the header names another key.
        fault = JwsFault(header_set={"jwk": claimed.public_jwk()})
        return ctx.session.key_change_request(account, new_key, inner_fault=fault)

    _negative(ctx, "keyChange whose inner signature does not match its jwk", send)


@check(
    "keychange.inner-payload-complete",
    title="A keyChange whose inner payload lacks account or oldKey is rejected",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-6"],
    sentence=_STEPS + "5. Check that the payload of the inner JWS is a well-formed keyChange object (as described "
    "above).",
    tags=["account"],
)
def inner_payload_complete(ctx: CheckContext) -> None:
    for missing in ("account", "oldKey"):
        def send(account: Account, new_key: AccountKey, missing: str = missing) -> httpx.Response:
            payload = {"account": account.url, "oldKey": account.key.public_jwk()}
            del payload[missing]
            return ctx.session.key_change_request(account, new_key, inner_payload=payload)

        _negative(ctx, f"keyChange without {missing}", send)


@check(
    "keychange.inner-url-matches",
    title="A keyChange whose inner url differs from the outer url is rejected",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-7"],
    sentence=_STEPS + '6. Check that the "url" parameters of the inner and outer JWSs are the same.',
    tags=["account"],
)
def inner_url_matches(ctx: CheckContext) -> None:
    def send(account: Account, new_key: AccountKey) -> httpx.Response:
        return ctx.session.key_change_request(account, new_key, inner_url=account.url)

    _negative(ctx, "keyChange with the account URL as inner url", send)


@check(
    "keychange.account-matches-signer",
    title="A keyChange naming another account is rejected",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-8"],
    sentence=_STEPS + '7. Check that the "account" field of the keyChange object contains the URL for the account '
    'matching the old key (i.e., the "kid" field in the outer JWS).',
    tags=["account", "two-accounts"],
)
def account_matches_signer(ctx: CheckContext) -> None:
    other = ctx.new_account()

    def send(account: Account, new_key: AccountKey) -> httpx.Response:
        return ctx.session.key_change_request(
            account, new_key, inner_payload={"account": other.url, "oldKey": account.key.public_jwk()})

    _negative(ctx, "keyChange naming another account", send)
    with noting("the other account still works with its key"):
        response = ctx.session.post_as_get(other.url, other)
    expect_status(response, {200}, "the other account after the rejected key change")


@check(
    "keychange.old-key-matches",
    title="A keyChange whose oldKey is not the account key is rejected",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-9"],
    sentence=_STEPS + '8. Check that the "oldKey" field of the keyChange object is the same as the account key for '
    "the account in question.",
    tags=["account"],
)
def old_key_matches(ctx: CheckContext) -> None:
    stranger = ctx.new_key()

    def send(account: Account, new_key: AccountKey) -> httpx.Response:
        return ctx.session.key_change_request(
            account, new_key, inner_payload={"account": account.url, "oldKey": stranger.public_jwk()})

    _negative(ctx, "keyChange with a wrong oldKey", send)


@check(
    "keychange.new-key-in-use",
    title="A keyChange to a key another account holds is refused, with 409 and that account's Location",
    section="RFC 8555 §7.3.5",
    level="MUST",
    requirements=["KC-10", "LOC-5"],
    sentence=_STEPS + "9. Check that no account exists whose account key is the same as the key in the \"jwk\" header "
    "parameter of the inner JWS. ... If there is an existing account with the new key provided, then the server "
    "SHOULD use status code 409 (Conflict) and provide the URL of that account in the Location header field.",
    tags=["account", "two-accounts"],
)
def new_key_in_use(ctx: CheckContext) -> None:
    ctx.require_resource("keyChange")
    account = ctx.new_account()
    holder = ctx.new_account()
    with noting("keyChange to the other account's key"):
        response = ctx.session.key_change_request(account, holder.key)
    if is_success(response):
        raise fail("the key change to a key already in use was accepted", expected="an error (409 Conflict)",
                   actual=describe_response(response))
    for who, acct in (("the account", account), ("the key's holder", holder)):
        with noting(f"{who} still works with its own key"):
            check_response = ctx.session.post_as_get(acct.url, acct)
        expect_status(check_response, {200}, f"{who} after the refused key change")
    location = response.headers.get("Location")
    if response.status_code != 409 or location != holder.url:
        raise Warned("the refusal is not 409 (Conflict) with the holder's URL in Location",
                     expected=f"HTTP 409, Location {holder.url}",
                     actual=f"{describe_response(response)}, Location {location!r}")


@check(
    "keychange.pending-order-survives",
    title="Orders and authorizations pending at a key change stay usable with the new key",
    section="RFC 8555 §7.3.5",
    level="MUST NOT",
    requirements=["KC-12"],
    sentence="Note that changing the account key for an account SHOULD NOT have any other impact on the account. "
    "For example, the server MUST NOT invalidate pending orders or authorization transactions based on a change of "
    "account key.",
    tags=["account", "validation", "issuance", "destructive"],
)
def pending_order_survives(ctx: CheckContext) -> None:
    ctx.require_resource("keyChange")
    ctx.require_challenge_type("http-01")
    account = ctx.new_account()
    identifiers = ctx.new_identifiers()
    order = ctx.session.create_order(account, identifiers)
    new_key = ctx.new_key()
    with noting("keyChange while the order is pending"):
        response = ctx.session.key_change_request(account, new_key)
    if response.status_code != 200:
        raise SetupFailed(f"the key change failed ({describe_response(response)})")
    rolled = with_key(account, new_key)
    order.account = rolled
    account_object(ctx, rolled, "the account with the new key")
    with noting("the pending order after the key change"):
        refreshed = ctx.session.post_as_get(order.url, rolled)
    state = json_or_none(refreshed)
    if refreshed.status_code != 200 or not isinstance(state, dict) or state.get("status") == "invalid":
        raise fail("the pending order did not survive the key change", expected="the order, still pending",
                   actual=describe_response(refreshed) + (f", status {state.get('status')!r}" if isinstance(state, dict) else ""))
    order.body = state
    # The key authorization now uses the new key's thumbprint (§8.1): validation proves the authz is usable.
    try:
        ctx.session.validate_order(order, "http-01", ctx.backend)
    except SetupFailed as exc:
        raise fail("the authorization pending at the key change could not be completed with the new key",
                   expected="the authorization becomes valid", actual=exc.message) from exc
    order.body = ctx.session.poll(order.url, rolled, lambda b: b.get("status") != "pending", "order")
    csr_der, _ = make_csr([i.value for i in identifiers])
    with noting("finalize with the new key"):
        final = ctx.session.finalize_request(order, csr_der)
    if final.status_code != 200:
        raise fail("finalizing the order pending at the key change failed", expected="HTTP 200",
                   actual=describe_response(final))


not_judged("KC-11", "the client MUST omit the inner nonce; the server's check list names no behaviour (information)")
