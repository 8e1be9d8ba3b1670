"""Helpers shared by the authorization, challenge and state-machine scenarios (not a scenario module).

They drive one order's validation to its end, on the success path or a deliberately failing one,
and keep what was seen so the checks can judge the challenge, the authorization and the order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from conformance.acme import Account, Order, find_challenge, json_or_none, provision_challenge
from conformance.context import CheckContext
from conformance.judge import fail
from conformance.model import CouldNotTest, Skipped
from conformance.recorder import noting
from conformance.responders.base import Identifier, key_authorization
from conformance.responders.builtin import BuiltinResponders

PROBLEM_PREFIX = "urn:ietf:params:acme:error:"
FINAL_CHALLENGE = frozenset({"valid", "invalid"})
FINAL_AUTHZ = frozenset({"valid", "invalid", "deactivated", "expired", "revoked"})
AUTHZ_STATUSES = FINAL_AUTHZ | {"pending"}
CHALLENGE_STATUSES = frozenset({"pending", "processing", "valid", "invalid"})
ORDER_STATUSES = frozenset({"pending", "ready", "processing", "valid", "invalid"})


@dataclass
class Attempt:
    """One validation attempt and what the server said afterwards."""

    account: Account
    order: Order
    authz_url: str
    authz: dict[str, Any]  # the authorization after validation ended
    challenge: dict[str, Any]  # the challenge as listed in that authorization (may be absent: {})
    token: str
    key_authz: str
    response: dict[str, Any]  # the challenge object the POST {} returned


def builtin(ctx: CheckContext) -> BuiltinResponders:
    """The in-process responders: needed where a check serves something a generic backend cannot."""
    backend = ctx.backend
    if not isinstance(backend, BuiltinResponders):
        raise Skipped("this check needs the built-in responders (wrong content, redirects, DNS overrides)")
    return backend


def new_authz(
    ctx: CheckContext, identifiers: list[Identifier] | None = None, account: Account | None = None
) -> tuple[Account, Order, str, dict[str, Any]]:
    """A fresh order with one identifier and its (pending) authorization."""
    account = account or ctx.new_account()
    order = ctx.session.create_order(account, identifiers or ctx.new_identifiers())
    url, authz = ctx.session.authorizations(order)[0]
    return account, order, url, authz


def wait_authz(ctx: CheckContext, account: Account, url: str, budget: float = 15.0) -> dict[str, Any]:
    return ctx.session.poll(url, account, lambda b: b.get("status") not in ("pending", "processing"),
                            "authorization", budget)


def challenge_in(authz: dict[str, Any], challenge_type: str) -> dict[str, Any]:
    challenges = authz.get("challenges")
    if isinstance(challenges, list):
        for item in challenges:
            if isinstance(item, dict) and item.get("type") == challenge_type:
                return item
    return {}


def post_challenge(ctx: CheckContext, account: Account, challenge: dict[str, Any], payload: Any = None) -> dict:
    """POST the challenge response ({} unless told otherwise); a refusal is a set-up failure."""
    if not isinstance(challenge.get("url"), str):
        raise CouldNotTest(f"the {challenge.get('type')} challenge has no url to answer")
    with noting(f"answer the {challenge.get('type')} challenge"):
        response = ctx.session.signed(str(challenge["url"]), {} if payload is None else payload, account)
    body = json_or_none(response) if response.status_code == 200 else None
    if not isinstance(body, dict):
        raise CouldNotTest(f"the challenge response POST was refused (HTTP {response.status_code})")
    return body


def attempt(
    ctx: CheckContext,
    challenge_type: str,
    *,
    provision: Callable[[Identifier, str, str], None] | None = None,
    key_authz: Callable[[str, Account], str] | None = None,
    identifiers: list[Identifier] | None = None,
    account: Account | None = None,
) -> Attempt:
    """Order, then answer ``challenge_type``: by default with the right answer on the backend.

    ``key_authz(token, account)`` picks the key authorization to serve; ``provision(identifier,
    token, key_authz)`` replaces the standard provisioning (a wrong certificate, a canned HTTP
    answer, ...). Returns once the authorization left ``pending``.
    """
    ctx.require_challenge_type(challenge_type)
    account, order, url, authz = new_authz(ctx, identifiers, account)
    challenge = find_challenge(authz, challenge_type)
    token = str(challenge.get("token", ""))
    keyauth = key_authz(token, account) if key_authz else key_authorization(token, account.key.thumbprint())
    ident = authz.get("identifier") or {}
    identifier = Identifier(str(ident.get("type")), str(ident.get("value")))
    if provision is not None:
        provision(identifier, token, keyauth)
    else:
        provision_challenge(ctx.backend, challenge_type, identifier, token, keyauth)
    response = post_challenge(ctx, account, challenge)
    final = wait_authz(ctx, account, url)
    return Attempt(account, order, url, final, challenge_in(final, challenge_type), token, keyauth, response)


def other_key_authz(ctx: CheckContext) -> Callable[[str, Account], str]:
    """Key authorization with the thumbprint of a key that is not the account's (RFC 8555 §8.1)."""
    stranger = ctx.new_key()
    return lambda token, _account: key_authorization(token, stranger.thumbprint())


def expect_failed(result: Attempt, types: set[str], what: str) -> None:
    """The validation failed for good: authz and challenge invalid, the challenge's error one of ``types``."""
    if result.authz.get("status") != "invalid":
        raise fail(f"{what}: the authorization did not become invalid", expected="status invalid",
                   actual=f"status {result.authz.get('status')!r}")
    if result.challenge and result.challenge.get("status") != "invalid":
        raise fail(f"{what}: the challenge did not become invalid", expected="challenge status invalid",
                   actual=f"challenge status {result.challenge.get('status')!r}")
    error = result.challenge.get("error")
    if not isinstance(error, dict) or not isinstance(error.get("type"), str):
        raise fail(f"{what}: the failed challenge carries no error problem document",
                   expected="an error object with a type", actual=repr(error))
    wanted = {PROBLEM_PREFIX + t for t in types}
    if error["type"] not in wanted:
        raise fail(f"{what}: the challenge error has an unexpected type", expected=" or ".join(sorted(wanted)),
                   actual=str(error["type"]))


def expect_valid(result: Attempt, what: str) -> None:
    if result.authz.get("status") != "valid":
        error = result.challenge.get("error")
        raise fail(f"{what}: the authorization did not become valid", expected="status valid",
                   actual=f"status {result.authz.get('status')!r}, challenge error {error!r}")
