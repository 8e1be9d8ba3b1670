"""External account binding (RFC 8555 §7.3.4).

The broken bindings each differ from a correct one in exactly one respect. A CA "decides whether
or not to verify the binding", so accepting a bad one is only a clear failure when the CA shows it
verified (it reflects the field) or when it requires bindings; otherwise it is a warning.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import httpx

from conformance.acme import (
    Account,
    SetupFailed,
    describe_response,
    external_account_binding,
    json_or_none,
    problem_type,
)
from conformance.context import CheckContext
from conformance.judge import expect_json_object, expect_problem, fail, full_type
from conformance.jws import AccountKey, json_bytes, mac_jws, make_jws
from conformance.model import Skipped, Warned
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._account_helpers import account_object, eab_required, is_success, mailto

_VERIFY_SENTENCE = (
    "To verify the account binding, the CA MUST take the following steps: ... If any of these checks fail, then "
    "the CA MUST reject the newAccount request."
)
_CRITERIA = 'The protected header of the JWS MUST meet the following criteria: o The "alg" field MUST indicate a MAC-based algorithm o The "kid" field MUST contain the key identifier provided by the CA o The "nonce" field MUST NOT be present o The "url" field MUST be set to the same value as the outer JWS'


def _credentials(ctx: CheckContext) -> tuple[str, bytes]:
    if ctx.run.options.eab is None:
        raise Skipped("no external account binding credentials for this target (--eab-kid/--eab-hmac-key)")
    return ctx.run.options.eab


def _new_account_with(ctx: CheckContext, key: AccountKey, binding: Any, what: str) -> httpx.Response:
    with noting(what):
        return ctx.session.new_account_request(key, eab=None, extra={"externalAccountBinding": binding})


def _judge_bad_binding(ctx: CheckContext, response: httpx.Response, what: str) -> None:
    if not is_success(response):
        if not 400 <= response.status_code < 500:
            raise fail(f"{what}: not rejected with a client error", expected="a 4xx error",
                       actual=describe_response(response))
        return
    body = json_or_none(response)
    reflected = isinstance(body, dict) and "externalAccountBinding" in body
    if reflected or eab_required(ctx):
        raise fail(f"{what} was accepted" + (" and reflected as verified" if reflected else ""),
                   expected="the newAccount request rejected", actual=describe_response(response))
    raise Warned(f"{what} was accepted (not reflected, so the CA may have chosen not to verify it)",
                 expected="the newAccount request rejected", actual=describe_response(response))


def _bad_binding_check(ctx: CheckContext, build: Callable[[AccountKey, str, bytes, str], Any], what: str) -> None:
    kid, hmac_key = _credentials(ctx)
    key = ctx.new_key()
    url = ctx.session.url_for("newAccount")
    response = _new_account_with(ctx, key, build(key, kid, hmac_key, url), f"newAccount with {what}")
    _judge_bad_binding(ctx, response, what)


@check(
    "eab.directory-flag-when-required",
    title="A CA that demands a binding says externalAccountRequired in its directory",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-1"],
    sentence='If such a CA requires that newAccount requests contain an "externalAccountBinding" field, then it MUST '
    'provide the value "true" in the "externalAccountRequired" subfield of the "meta" field in the directory object.',
    tags=["basic"],
)
def directory_flag_when_required(ctx: CheckContext) -> None:
    required = eab_required(ctx)
    with noting("newAccount without externalAccountBinding"):
        response = ctx.session.new_account_request(ctx.new_key(), eab=None)
    if is_success(response):
        if required:
            ctx.note("the directory says externalAccountRequired but an account was created without a binding")
        return
    if problem_type(response) == full_type("externalAccountRequired") and not required:
        raise fail("the CA demands a binding but its directory does not say externalAccountRequired: true",
                   expected='"meta": {"externalAccountRequired": true}', actual=describe_response(response))
    if not required:
        raise SetupFailed(f"newAccount without a binding was refused ({describe_response(response)})")


@check(
    "eab.required-error-type",
    title="Where a binding is required, newAccount without one gets externalAccountRequired",
    section="RFC 8555 §7.3.4",
    level="SHOULD",
    requirements=["EAB-2"],
    sentence='If the CA receives a newAccount request without an "externalAccountBinding" field, then it SHOULD reply '
    'with an error of type "externalAccountRequired".',
    tags=["basic"],
)
def required_error_type(ctx: CheckContext) -> None:
    if not eab_required(ctx):
        raise Skipped("the directory does not say externalAccountRequired: true")
    with noting("newAccount without externalAccountBinding"):
        response = ctx.session.new_account_request(ctx.new_key(), eab=None)
    expect_problem(response, ["externalAccountRequired"], "newAccount without a binding at a CA that requires one")


@check(
    "eab.binding-reflected",
    title="A correct binding creates the account, which shows the binding exactly as sent",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-3"],
    sentence='The account object the CA returns MUST include an "externalAccountBinding" field with the same value as '
    "the field in the request.",
    tags=["basic", "eab"],
)
def binding_reflected(ctx: CheckContext) -> None:
    kid, hmac_key = _credentials(ctx)
    key = ctx.new_key()
    binding = external_account_binding(key, kid, hmac_key, ctx.session.url_for("newAccount"))
    response = _new_account_with(ctx, key, binding, "newAccount with a correct binding")
    if not is_success(response):
        raise fail("a correct binding was refused", expected="HTTP 201", actual=describe_response(response))
    body = expect_json_object(response, "newAccount with a binding")
    if body.get("externalAccountBinding") != binding:
        raise fail("the account does not show the binding as sent", expected=str(binding)[:200],
                   actual=str(body.get("externalAccountBinding"))[:200])


@check(
    "eab.rejects-non-mac-alg",
    title="A binding signed with a non-MAC algorithm is rejected",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-4"],
    sentence=_CRITERIA,
    tags=["basic", "eab"],
)
def rejects_non_mac_alg(ctx: CheckContext) -> None:
    def build(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        jws, _ = make_jws(key, {"alg": key.alg, "kid": kid, "url": url}, json_bytes(key.public_jwk()))
        return jws

    _bad_binding_check(ctx, build, "a binding signed with ES256 instead of a MAC")


@check(
    "eab.rejects-nonce",
    title="A binding whose protected header has a nonce is rejected",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-5"],
    sentence=_CRITERIA,
    tags=["basic", "eab"],
)
def rejects_nonce(ctx: CheckContext) -> None:
    nonce = ctx.session.new_nonce()

    def build(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        return mac_jws(hmac_key, {"kid": kid, "url": url, "nonce": nonce}, json_bytes(key.public_jwk()))

    _bad_binding_check(ctx, build, "a binding carrying a nonce")


@check(
    "eab.rejects-url-mismatch",
    title="A binding whose url differs from the outer JWS url is rejected",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-6"],
    sentence=_CRITERIA,
    tags=["basic", "eab"],
)
def rejects_url_mismatch(ctx: CheckContext) -> None:
    def build(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        return mac_jws(hmac_key, {"kid": kid, "url": url + "/other"}, json_bytes(key.public_jwk()))

    _bad_binding_check(ctx, build, "a binding for another url")


@check(
    "eab.rejects-unknown-kid",
    title="A binding with an unknown key identifier is rejected",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-7"],
    sentence=_VERIFY_SENTENCE + ' (3. Retrieve the MAC key corresponding to the key identifier in the "kid" field)',
    tags=["basic", "eab"],
)
def rejects_unknown_kid(ctx: CheckContext) -> None:
    def build(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        return mac_jws(hmac_key, {"kid": f"{kid}-unknown-{secrets.token_hex(4)}", "url": url},
                       json_bytes(key.public_jwk()))

    _bad_binding_check(ctx, build, "a binding with an unknown kid")


@check(
    "eab.rejects-wrong-mac",
    title="A binding whose MAC was made with the wrong key is rejected",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-8"],
    sentence=_VERIFY_SENTENCE + " (4. Verify that the MAC on the JWS verifies using that MAC key)",
    tags=["basic", "eab"],
)
def rejects_wrong_mac(ctx: CheckContext) -> None:
    def build(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        return mac_jws(secrets.token_bytes(32), {"kid": kid, "url": url}, json_bytes(key.public_jwk()))

    _bad_binding_check(ctx, build, "a binding MACed with the wrong key")


@check(
    "eab.rejects-other-account-key",
    title="A binding whose payload is not the outer jwk is rejected",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-9"],
    sentence=_VERIFY_SENTENCE + " (5. Verify that the payload of the JWS represents the same key as was used to "
    'verify the outer JWS (i.e., the "jwk" field of the outer JWS))',
    tags=["basic", "eab"],
)
def rejects_other_account_key(ctx: CheckContext) -> None:
    other = ctx.new_key()

    def build(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        return mac_jws(hmac_key, {"kid": kid, "url": url}, json_bytes(other.public_jwk()))

    _bad_binding_check(ctx, build, "a binding for another account key")


@check(
    "eab.rejects-malformed-jws",
    title="A binding that is not a well-formed flattened JWS with a JWK payload is rejected",
    section="RFC 8555 §7.3.4",
    level="MUST",
    requirements=["EAB-10"],
    sentence=_VERIFY_SENTENCE + " (1. Verify that the value of the field is a well-formed JWS)",
    tags=["basic", "eab"],
)
def rejects_malformed_jws(ctx: CheckContext) -> None:
    def compact(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        good = external_account_binding(key, kid, hmac_key, url)
        return f"{good['protected']}.{good['payload']}.{good['signature']}"

    def no_signature(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        good = external_account_binding(key, kid, hmac_key, url)
        return {"protected": good["protected"], "payload": good["payload"]}

    def not_a_jwk(key: AccountKey, kid: str, hmac_key: bytes, url: str) -> Any:
        return mac_jws(hmac_key, {"kid": kid, "url": url}, json_bytes({"hello": "world"}))

    for build, what in ((compact, "a compact-serialized binding"), (no_signature, "a binding without signature"),
                        (not_a_jwk, "a binding whose payload is not a JWK")):
        _bad_binding_check(ctx, build, what)


@check(
    "eab.unverified-not-reflected",
    title="A binding the CA cannot verify is never reflected in the account",
    section="RFC 8555 §7.3.4",
    level="MUST NOT",
    requirements=["EAB-11"],
    sentence='If the CA does not verify the binding, then it MUST NOT reflect the "externalAccountBinding" field in '
    "the resulting account object (if any).",
    tags=["basic"],
)
def unverified_not_reflected(ctx: CheckContext) -> None:
    key = ctx.new_key()
    # Well-formed, but with a key id and MAC key no CA handed out: nobody can verify it.
    binding = external_account_binding(key, f"acme-conformance-{secrets.token_hex(6)}", secrets.token_bytes(32),
                                       ctx.session.url_for("newAccount"))
    response = _new_account_with(ctx, key, binding, "newAccount with an unverifiable binding")
    if not is_success(response):
        return
    body = json_or_none(response)
    if isinstance(body, dict) and "externalAccountBinding" in body:
        raise fail("an unverifiable binding is reflected in the account", expected="no externalAccountBinding member",
                   actual=str(body.get("externalAccountBinding"))[:200])


@check(
    "eab.not-updateable",
    title="An account update cannot replace the account's binding",
    section="RFC 8555 §7.1.2",
    level="descr.",
    requirements=["EAB-12"],
    sentence="externalAccountBinding (optional, object): ... This field is not updateable by the client (see "
    "Section 7.3.4).",
    tags=["account", "eab"],
)
def not_updateable(ctx: CheckContext) -> None:
    kid, hmac_key = _credentials(ctx)
    key = ctx.new_key()
    url = ctx.session.url_for("newAccount")
    binding = external_account_binding(key, kid, hmac_key, url)
    response = _new_account_with(ctx, key, binding, "newAccount with a correct binding")
    location = response.headers.get("Location")
    body = json_or_none(response)
    if not is_success(response) or not location or not isinstance(body, dict):
        raise SetupFailed(f"newAccount with a correct binding failed ({describe_response(response)})")
    account = Account(key=key, url=location, body=body)
    replacement = mac_jws(hmac_key, {"kid": kid, "url": url}, json_bytes(key.public_jwk()), alg="HS512")
    with noting("update the contact and send another externalAccountBinding"):
        update = ctx.session.signed(location, {"contact": [mailto(ctx)], "externalAccountBinding": replacement},
                                    account)
    shown = [("the update response", json_or_none(update) if is_success(update) else None),
             ("the account fetched afterwards", account_object(ctx, account))]
    for where, value in shown:
        if isinstance(value, dict) and value.get("externalAccountBinding") == replacement:
            raise fail(f"{where} shows the binding sent in the update", expected="the original binding (or none)",
                       actual=str(replacement)[:200])


not_judged("EAB-13", "reusing one EAB credential for several accounts is CA policy; the RFC is silent")
