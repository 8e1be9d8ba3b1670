"""State machines (RFC 8555 §7.1.6): every status the client observes must fit the RFC's diagrams.

The checks drive a lifecycle (an issuance, a failed validation, an account deactivation), then read
every object status out of the recorded exchanges. Observation is sampled (a client never sees every
state), so a change A -> C is allowed when C is reachable from A through allowed edges; a terminal
state has no way out at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from conformance.acme import SetupFailed, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.judge import expect_problem, fail
from conformance.recorder import Exchange, noting
from conformance.registry import check
from scenarios._validation import attempt, expect_valid, other_key_authz

EDGES: dict[str, dict[str, set[str]]] = {
    "challenge": {"pending": {"processing", "valid", "invalid"}, "processing": {"processing", "valid", "invalid"},
                  "valid": set(), "invalid": set()},
    "authorization": {"pending": {"valid", "invalid", "deactivated", "expired", "revoked"},
                      "valid": {"revoked", "deactivated", "expired"},
                      "invalid": set(), "deactivated": set(), "expired": set(), "revoked": set()},
    "order": {"pending": {"ready", "invalid"}, "ready": {"processing", "invalid"},
              "processing": {"valid", "invalid"}, "valid": set(), "invalid": set()},
    "account": {"valid": {"deactivated", "revoked"}, "deactivated": set(), "revoked": set()},
}
FIRST: dict[str, set[str]] = {
    # Orders may be born ready and authorizations valid when the server reuses authorizations (§7.1.3).
    "challenge": {"pending", "valid"}, "authorization": {"pending", "valid"}, "order": {"pending", "ready"},
    "account": {"valid"},
}


def reachable(kind: str, start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in EDGES[kind].get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@dataclass
class Observed:
    """Status histories per (kind, url), plus every body seen, in the order they were received."""

    history: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    bodies: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def add(self, kind: str, url: str, body: dict[str, Any]) -> None:
        status = body.get("status")
        if isinstance(status, str):
            self.history.setdefault((kind, url), []).append(status)
        self.bodies.append((kind, url, body))

    def of(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(url, body) for k, url, body in self.bodies if k == kind]


def _kind(body: dict[str, Any]) -> str | None:
    if "identifiers" in body and "finalize" in body:
        return "order"
    if "identifier" in body and "challenges" in body:
        return "authorization"
    if "type" in body and "url" in body and ("token" in body or "status" in body) and "identifier" not in body:
        return "challenge"
    if "orders" in body or "contact" in body or "key" in body:
        return "account"
    return None


def observe(exchanges: Iterable[Exchange]) -> Observed:
    """Object statuses from the recorded exchanges (successful JSON answers only)."""
    seen = Observed()
    for exchange in exchanges:
        if exchange.status is None or not 200 <= exchange.status < 300:
            continue
        try:
            body = json.loads(exchange.response_body)
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(body, dict):
            continue
        kind = _kind(body)
        location = exchange.response_header("Location")
        if kind is None:
            continue
        if kind == "order" and "/finalize" in exchange.url.lower() and not location:
            continue  # the finalize answer names no order URL to key it by
        url = location if exchange.status == 201 and location else exchange.url
        if kind == "challenge" and isinstance(body.get("url"), str):
            url = str(body["url"])
        if kind == "order" and location and "finalize" in exchange.url.lower():
            url = location
        seen.add(kind, url, body)
        if kind == "authorization":
            for item in body.get("challenges") or []:
                if isinstance(item, dict) and isinstance(item.get("url"), str):
                    seen.add("challenge", str(item["url"]), item)
    return seen


def lifecycle(ctx: CheckContext, *, deactivate_account: bool = True) -> Observed:
    """An issuance, a failed validation and (optionally) an account deactivation, all observed."""
    account = ctx.new_account()
    ctx.issue("http-01", account=account)
    failed = attempt(ctx, "http-01", account=account, key_authz=other_key_authz(ctx))
    ctx.session.refresh(failed.order)
    if deactivate_account:
        with noting("deactivate the account"):
            ctx.session.signed(account.url, {"status": "deactivated"}, account)
    return observe(ctx.recorder.exchanges)


def transitions_problems(seen: Observed) -> list[str]:
    problems = []
    for (kind, url), statuses in seen.history.items():
        for before, after in zip(statuses, statuses[1:], strict=False):
            if before == after and before in EDGES[kind]:
                continue
            if before not in EDGES[kind] or after not in reachable(kind, before):
                problems.append(f"{kind} {url}: {before} -> {after}")
    return problems


_LIFE_TAGS = ["account", "validation", "issuance", "destructive"]


@check(
    "state.transitions-allowed",
    title="Every observed status change follows the RFC's state machines; final states are never left",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["SM-1"],
    sentence='Each ACME object type goes through a simple state machine over its lifetime. The "status" field of '
    "the object indicates which state the object is currently in. (Diagrams: State Transitions for Challenge, "
    "Authorization and Order Objects; account states in §7.1.2.)",
    tags=_LIFE_TAGS,
)
def state_transitions(ctx: CheckContext) -> None:
    seen = lifecycle(ctx)
    problems = transitions_problems(seen)
    if problems:
        raise fail("status changes outside the RFC's state machines", expected="only the edges of §7.1.6",
                   actual="; ".join(problems[:5]))


@check(
    "state.created-status",
    title="Challenges, authorizations and orders are first seen pending (or already valid/ready); accounts valid",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["SM-2"],
    sentence='Challenge objects are created in the "pending" state. ... Authorization objects are created in the '
    '"pending" state. ... Order objects are created in the "pending" state.',
    tags=_LIFE_TAGS,
)
def state_created(ctx: CheckContext) -> None:
    seen = lifecycle(ctx, deactivate_account=False)
    for (kind, url), statuses in seen.history.items():
        if statuses[0] not in FIRST[kind]:
            raise fail(f"a new {kind} was first seen in an unexpected state",
                       expected=" or ".join(sorted(FIRST[kind])), actual=f"{url}: {statuses[0]}")


@check(
    "state.certificate-iff-valid",
    title="An order has a certificate URL exactly when it is valid",
    section="RFC 8555 §7.1.3",
    level="descr.",
    requirements=["SM-3"],
    sentence="certificate (optional, string): A URL for the certificate that has been issued in response to this "
    'order. (Issuance makes the order "valid": "Once the certificate is issued, the order enters the "valid" '
    'state.")',
    tags=_LIFE_TAGS,
)
def state_certificate_iff_valid(ctx: CheckContext) -> None:
    seen = lifecycle(ctx, deactivate_account=False)
    for url, body in seen.of("order"):
        has_cert = isinstance(body.get("certificate"), str)
        if has_cert != (body.get("status") == "valid"):
            raise fail("an order's certificate and status disagree", expected="certificate present iff valid",
                       actual=f"{url}: status {body.get('status')!r}, certificate {'present' if has_cert else 'absent'}")


@check(
    "state.ready-means-authorized",
    title="When an order is ready, every one of its authorizations is valid",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["SM-4"],
    sentence='Once all of the authorizations listed in the order object are in the "valid" state, the order '
    'transitions to the "ready" state.',
    tags=["account", "validation"],
)
def state_ready_authorized(ctx: CheckContext) -> None:
    identifiers = ctx.new_identifiers(2)
    account = ctx.new_account()
    order = ctx.session.create_order(account, identifiers)
    ctx.session.validate_order(order, "http-01", ctx.backend)
    body = ctx.session.poll(order.url, account, lambda b: b.get("status") != "pending", "order")
    if body.get("status") != "ready":
        raise fail("the order did not become ready", expected="ready", actual=repr(body.get("status")))
    for url in body.get("authorizations") or []:
        authz = ctx.session.fetch_json(str(url), account, "authorization")
        if authz.get("status") != "valid":
            raise fail("a ready order lists an authorization that is not valid", expected="valid",
                       actual=f"{url}: {authz.get('status')!r}")


@check(
    "state.challenge-authz-consistent",
    title="A valid challenge means a valid authorization, and a valid authorization has a valid challenge",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["SM-5"],
    sentence='If one of the challenges listed in the authorization transitions to the "valid" state, then the '
    'authorization also changes to the "valid" state.',
    tags=_LIFE_TAGS,
)
def state_challenge_authz(ctx: CheckContext) -> None:
    seen = lifecycle(ctx, deactivate_account=False)
    for url, authz in seen.of("authorization"):
        statuses = [c.get("status") for c in authz.get("challenges") or [] if isinstance(c, dict)]
        if "valid" in statuses and authz.get("status") != "valid":
            raise fail("an authorization with a valid challenge is not valid", expected="valid",
                       actual=f"{url}: {authz.get('status')!r}")
        if authz.get("status") == "valid" and "valid" not in statuses:
            raise fail("a valid authorization shows no valid challenge", expected="the validated challenge",
                       actual=f"{url}: challenges {statuses}")


@check(
    "state.order-invalid-after-authz-deactivated",
    title="An order whose authorization is deactivated becomes invalid",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["SM-6", "AZD-3"],
    sentence='The order also moves to the "invalid" state if it expires or one of its authorizations enters a '
    'final state other than "valid" ("expired", "revoked", or "deactivated").',
    tags=["account", "validation", "destructive"],
)
def state_order_invalid(ctx: CheckContext) -> None:
    result = attempt(ctx, "http-01")
    expect_valid(result, "set-up validation")
    with noting("deactivate the order's valid authorization"):
        response = ctx.session.signed(result.authz_url, {"status": "deactivated"}, result.account)
    if response.status_code != 200:
        raise SetupFailed(f"deactivation was refused ({describe_response(response)})")
    order = ctx.session.refresh(result.order)
    if order.status != "invalid":
        raise fail("the order is not invalid after its authorization was deactivated", expected="invalid",
                   actual=f"status {order.status!r}")


@check(
    "state.error-means-invalid",
    title="Every challenge carrying an error is invalid",
    section="RFC 8555 §8",
    level="MUST",
    requirements=["SM-7"],
    sentence='A challenge object with an error MUST have status equal to "invalid".',
    tags=_LIFE_TAGS,
)
def state_error_invalid(ctx: CheckContext) -> None:
    seen = lifecycle(ctx, deactivate_account=False)
    for url, item in seen.of("challenge"):
        if "error" in item and item.get("status") != "invalid":
            raise fail("a challenge has an error but is not invalid", expected="status invalid",
                       actual=f"{url}: {item.get('status')!r}")


@check(
    "state.deactivated-account-locked",
    title="A deactivated account's requests are refused with 401 unauthorized",
    section="RFC 8555 §7.3.6",
    level="MUST",
    requirements=["SM-8"],
    sentence="If a server receives a POST or POST-as-GET from a deactivated account, it MUST return an error "
    'response with status code 401 (Unauthorized) and type "urn:ietf:params:acme:error:unauthorized".',
    tags=["account", "destructive"],
)
def state_deactivated_account(ctx: CheckContext) -> None:
    account = ctx.new_account()
    with noting("deactivate the account"):
        response = ctx.session.signed(account.url, {"status": "deactivated"}, account)
    body = json_or_none(response)
    if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != "deactivated":
        raise fail("account deactivation did not answer the deactivated account", expected="200, status deactivated",
                   actual=describe_response(response))
    with noting("POST-as-GET the deactivated account"):
        fetch = ctx.session.post_as_get(account.url, account)
    expect_problem(fetch, ["unauthorized"], "POST-as-GET by a deactivated account", statuses={401})
    with noting("newOrder by the deactivated account"):
        order = ctx.session.new_order_request(account, ctx.new_identifiers())
    expect_problem(order, ["unauthorized"], "newOrder by a deactivated account", statuses={401})


@check(
    "state.valid-objects-complete",
    title="Valid authorizations have expires and valid challenges have validated",
    section="RFC 8555 §7.1.4",
    level="REQUIRED",
    requirements=["SM-9"],
    sentence='expires ... This field is REQUIRED for objects with "valid" in the "status" field (§7.1.4). '
    'validated ... This field is REQUIRED if the "status" field is "valid" (§8).',
    tags=_LIFE_TAGS,
)
def state_valid_complete(ctx: CheckContext) -> None:
    seen = lifecycle(ctx, deactivate_account=False)
    for url, authz in seen.of("authorization"):
        if authz.get("status") == "valid" and not isinstance(authz.get("expires"), str):
            raise fail("a valid authorization has no expires", expected="expires", actual=url)
    for url, item in seen.of("challenge"):
        if item.get("status") == "valid" and not isinstance(item.get("validated"), str):
            raise fail("a valid challenge has no validated timestamp", expected="validated", actual=url)
