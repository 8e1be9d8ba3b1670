"""403 on unauthorized issuance (RFC 8555 §6.3, §7.4, §7.5.1, §10.5): the access-control checks a CA
most needs to pass.

A second account can neither read, finalize, validate nor deactivate the first account's objects,
and no finalize yields a certificate for names the account has not been authorized for: not for a
pending order, and not for a CSR that names identifiers the order does not hold. (Revocation by
another account is judged by the revocation checks, REV-5/REV-6.)
"""

from __future__ import annotations

from typing import Any

import httpx

from conformance.acme import Account, Order, json_or_none
from conformance.context import CheckContext
from conformance.csr import csr_field, make_csr
from conformance.judge import fail
from conformance.model import CouldNotTest, Informational
from conformance.recorder import noting
from conformance.registry import check
from scenarios._orders import (
    current,
    first_authorization,
    is_success,
    make_custom_csr,
    names_issued_for,
    order_names,
    pending_order,
    ready_order,
    settle,
    short_type,
)

_ACCESS_SENTENCE = (
    "On receiving a request with a zero-length (and thus non-JSON) payload, the server MUST authenticate the "
    "sender and verify any access control rules."
)
_NO_OTHER_CONTENTS = (
    "The server MUST return an error if it cannot fulfill the request as specified, and it MUST NOT issue a "
    "certificate with contents other than those requested. ... A request to finalize an order will result in "
    "an error if ... the account is not authorized for the identifiers indicated in the CSR"
)


def _refused(response: httpx.Response, what: str) -> None:
    """Access control: anything but a 4xx lets the other account act on (or see) the object."""
    if not 400 <= response.status_code < 500:
        body = json_or_none(response)
        shown = f", body status {body.get('status')!r}" if isinstance(body, dict) and "status" in body else ""
        raise fail(f"{what} was not refused", expected="a 4xx error (unauthorized, or 404 to hide the object)",
                   actual=f"HTTP {response.status_code}{shown}")


def _intruder(ctx: CheckContext) -> Account:
    with noting("create the second (intruding) account"):
        return ctx.new_account()


# -- reading ---------------------------------------------------------------------------------------


@check(
    "unauthorized.foreign-order-read",
    title="Another account cannot fetch an account's order",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["ORD-17"],
    sentence=_ACCESS_SENTENCE,
    tags=["account", "two-accounts"],
)
def foreign_order_read(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    intruder = _intruder(ctx)
    with noting("the second account fetches the first account's order"):
        response = ctx.session.post_as_get(order.url, intruder)
    _refused(response, "POST-as-GET of another account's order")


@check(
    "unauthorized.foreign-orders-list-read",
    title="Another account cannot fetch an account's orders list",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["ORD-17"],
    sentence=_ACCESS_SENTENCE,
    tags=["account", "two-accounts"],
)
def foreign_orders_list(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    orders_url = order.account.body.get("orders")
    if not isinstance(orders_url, str):
        raise CouldNotTest("the account object has no orders URL (judged by the account checks)")
    intruder = _intruder(ctx)
    with noting("the second account fetches the first account's orders list"):
        response = ctx.session.post_as_get(orders_url, intruder)
    if is_success(response) and order.url not in response.text and order.account.url not in response.text:
        # The server answered with something of the requester's own (its empty list, or its account
        # object): none of the first account's data leaked, which is what the access rule protects.
        ctx.note(f"answered {response.status_code} without any of the first account's data")
        return
    _refused(response, "POST-as-GET of another account's orders list")


@check(
    "unauthorized.foreign-authorization-read",
    title="Another account cannot fetch an account's authorization",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["AZ-9"],
    sentence=_ACCESS_SENTENCE,
    tags=["account", "two-accounts"],
)
def foreign_authz_read(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    url = first_authorization(order)
    intruder = _intruder(ctx)
    with noting("the second account fetches the first account's authorization"):
        response = ctx.session.post_as_get(url, intruder)
    _refused(response, "POST-as-GET of another account's authorization")


@check(
    "unauthorized.foreign-certificate-read",
    title="Another account fetching an account's certificate (allowed by policy: certificates are public)",
    section="RFC 8555 §6.3",
    level="descr.",
    requirements=["CERT-9"],
    sentence=_ACCESS_SENTENCE,
    tags=["account", "two-accounts", "validation", "issuance", "policy"],
)
def foreign_certificate_read(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    intruder = _intruder(ctx)
    with noting("the second account fetches the first account's certificate"):
        response = ctx.session.post_as_get(issuance.certificate_url, intruder)
    if is_success(response):
        raise Informational("the certificate is served to another account (certificates are public data; "
                            "the RFC leaves this to the server's access-control rules)",
                            actual=f"HTTP {response.status_code}")
    if not 400 <= response.status_code < 500:
        raise fail("another account's certificate request got neither the certificate nor a refusal",
                   expected="200, or a 4xx refusal", actual=f"HTTP {response.status_code}")


# -- acting ----------------------------------------------------------------------------------------


@check(
    "unauthorized.foreign-order-finalize",
    title="Another account cannot finalize an account's ready order",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["ORD-17"],
    sentence="The server MUST authenticate the sender and verify any access control rules. ... A request to "
    "finalize an order will result in an error if ... the account is not authorized for the identifiers "
    "indicated in the CSR",
    tags=["account", "two-accounts", "validation"],
)
def foreign_order_finalize(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    intruder = _intruder(ctx)
    names = order_names(order)
    csr_der, _ = make_csr(names)
    with noting("the second account finalizes the first account's order"):
        response = ctx.session.signed(str(order.body["finalize"]), {"csr": csr_field(csr_der)}, intruder)
    _refused(response, "finalize of another account's order")
    body = current(ctx, order, "the owner fetches its order")
    if body.get("status") != "ready" or "certificate" in body:
        raise fail("the refused finalize by another account still moved the order",
                   expected="the order still ready, without a certificate",
                   actual=f"status {body.get('status')!r}, certificate {body.get('certificate')!r}")


@check(
    "unauthorized.foreign-authorization-deactivate",
    title="Another account cannot deactivate an account's authorization",
    section="RFC 8555 §7.5.2",
    level="MUST",
    requirements=["AZ-9"],
    sentence="The server MUST authenticate the sender and verify any access control rules. ... If a client "
    "wishes to relinquish its authorization to issue certificates for an identifier, then it may request that "
    "the server deactivate each authorization associated with it",
    tags=["account", "two-accounts"],
)
def foreign_authz_deactivate(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    url = first_authorization(order)
    intruder = _intruder(ctx)
    with noting("the second account deactivates the first account's authorization"):
        response = ctx.session.signed(url, {"status": "deactivated"}, intruder)
    _refused(response, "deactivation of another account's authorization")
    with noting("the owner fetches its authorization"):
        status = ctx.session.fetch_json(url, order.account, "authorization").get("status")
    if status != "pending":
        raise fail("the refused deactivation still changed the authorization", expected="pending",
                   actual=repr(status))


@check(
    "unauthorized.foreign-challenge-respond",
    title="Another account cannot trigger validation of an account's challenge",
    section="RFC 8555 §7.5.1",
    level="MUST",
    requirements=["CH-6"],
    sentence="The server MUST authenticate the sender and verify any access control rules. ... To do this, the "
    "client updates the authorization object received from the server by filling in any required "
    "information in the elements of the \"challenges\" dictionary.",
    tags=["account", "two-accounts"],
)
def foreign_challenge_respond(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    url, authz = ctx.session.authorizations(order)[0]
    challenges = [c for c in authz.get("challenges", []) if isinstance(c, dict) and isinstance(c.get("url"), str)]
    if not challenges:
        raise CouldNotTest("the authorization offers no challenge")
    challenge = challenges[0]
    intruder = _intruder(ctx)
    with noting(f"the second account answers the first account's {challenge.get('type')} challenge"):
        response = ctx.session.signed(str(challenge["url"]), {}, intruder)
    _refused(response, "a response to another account's challenge")
    with noting("the owner fetches its challenge"):
        status = ctx.session.fetch_json(str(challenge["url"]), order.account, "challenge").get("status")
    if status != "pending":
        raise fail("the refused response still started validation of the challenge", expected="pending",
                   actual=repr(status))


@check(
    "unauthorized.no-cross-account-authorization-reuse",
    title="An account's valid authorization is never reused for another account's order",
    section="RFC 8555 §10.5",
    level="MUST",
    requirements=["AZ-9"],
    sentence="The server MUST authenticate the sender and verify any access control rules. ... authorizations: "
    "For pending orders, the authorizations that the client needs to complete ... including unexpired "
    "authorizations that the client has completed in the past",
    tags=["account", "two-accounts", "validation"],
)
def no_cross_account_reuse(ctx: CheckContext) -> None:
    identifiers = ctx.new_identifiers()
    owner_order = ready_order(ctx, identifiers=identifiers)
    owned = {str(u) for u in owner_order.body.get("authorizations", [])}
    intruder = _intruder(ctx)
    other = ctx.session.create_order(intruder, identifiers)
    shared = owned & {str(u) for u in other.body.get("authorizations", [])}
    if shared:
        raise fail("another account's order lists the first account's authorization",
                   expected="fresh authorizations for the second account", actual=", ".join(sorted(shared)))
    if other.status not in ("pending", None):
        for url, authz in ctx.session.authorizations(other):
            if authz.get("status") == "valid":
                raise fail("another account's order is born with a valid authorization it never completed",
                           expected="pending authorizations", actual=f"{url}: valid (order {other.status!r})")


# -- finalize that must never yield a certificate -------------------------------------------------------


def _judge_no_certificate_for(ctx: CheckContext, order: Order, response: httpx.Response,
                              foreign: set[str], what: str) -> None:
    """An accepted finalize is only tolerable if no certificate names ``foreign``."""
    if not is_success(response):
        ctx.note(f"{what}: refused with HTTP {response.status_code} {short_type(response)}")
        return
    settle(ctx, order)
    issued = names_issued_for(ctx, order)
    if issued is None:
        ctx.note(f"{what}: accepted, but the order became {order.status!r} without a certificate")
        return
    leaked = sorted(issued & {n.lower() for n in foreign})
    if leaked:
        raise fail(f"{what}: a certificate was issued for a name the account is not authorized for",
                   expected="no certificate naming " + ", ".join(sorted(foreign)),
                   actual="the certificate names " + ", ".join(sorted(issued)))


@check(
    "unauthorized.finalize-pending-no-certificate",
    title="Finalizing an order whose authorizations are not valid never yields a certificate",
    section="RFC 8555 §7.4",
    level="MUST",
    requirements=["FIN-1"],
    sentence="A request to finalize an order will result in error if the order is not in the \"ready\" state. In "
    "such cases, the server MUST return a 403 (Forbidden) error",
    tags=["account"],
)
def finalize_pending(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    names = order_names(order)
    csr_der, _ = make_csr(names)
    with noting("finalize without completing any authorization"):
        response = ctx.session.finalize_request(order, csr_der)
    if is_success(response):
        raise fail("finalize of an order without valid authorizations was accepted", expected="an error (403)",
                   actual=f"HTTP {response.status_code}")
    body: dict[str, Any] = current(ctx, order, "fetch the order after the refused finalize")
    if body.get("status") in ("processing", "valid") or "certificate" in body:
        raise fail("an order without valid authorizations moved towards issuance",
                   expected="no processing/valid status, no certificate",
                   actual=f"status {body.get('status')!r}, certificate {body.get('certificate')!r}")


def _register_foreign_name(variant: str, title: str) -> None:
    @check(
        f"unauthorized.csr-{variant}-no-certificate",
        title=title,
        section="RFC 8555 §7.4",
        level="MUST NOT",
        requirements=["FIN-3", "FIN-4"] if variant == "swapped-name" else ["FIN-3"],
        sentence=_NO_OTHER_CONTENTS,
        tags=["account", "validation", "issuance"],
    )
    def foreign_name(ctx: CheckContext) -> None:
        order = ready_order(ctx)
        names = order_names(order)
        stranger = ctx.new_domain("unauthorized")
        if variant == "extra-san":
            csr_der, _ = make_custom_csr([*names, stranger])
        elif variant == "foreign-cn":
            csr_der, _ = make_custom_csr(names, common_name=stranger)
        else:
            csr_der, _ = make_custom_csr([stranger])
        with noting(f"finalize with a CSR naming {stranger} ({variant})"):
            response = ctx.session.finalize_request(order, csr_der)
        _judge_no_certificate_for(ctx, order, response, {stranger}, f"CSR with {variant}")

    foreign_name.__name__ = f"csr_{variant.replace('-', '_')}"


_register_foreign_name("extra-san", "A CSR adding an unauthorized subjectAltName never yields a certificate for it")
_register_foreign_name("foreign-cn", "A CSR whose commonName is an unauthorized name never yields a certificate for it")
_register_foreign_name("swapped-name", "A CSR naming another name instead of the order's never yields a certificate "
                       "for it")
