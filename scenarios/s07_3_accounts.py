"""Account creation and lookup (RFC 8555 §7.1.2, §7.1.2.1, §7.3, §7.3.1).

Every check makes its own accounts with fresh keys, so concurrent checks never see each
other's state.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.acme import Account, SetupFailed, describe_response, json_or_none, link_targets, problem_type
from conformance.context import CheckContext
from conformance.judge import (
    expect_header,
    expect_json_object,
    expect_problem,
    expect_status,
    fail,
    full_type,
)
from conformance.model import Informational, Skipped, Warned
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._account_helpers import account_object, contacts, is_success, mailto, new_account_raw

_CREATE_SENTENCE = (
    "The server returns this account object in a 201 (Created) response, with the account URL in a "
    "Location header field."
)


def _absolute_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _create(ctx: CheckContext, **kwargs: Any) -> tuple[httpx.Response, Account]:
    """newAccount with a fresh key that must succeed with Location and a body (else: could not test)."""
    key = ctx.new_key()
    response = new_account_raw(ctx, key, "newAccount with a fresh key", **kwargs)
    location = response.headers.get("Location")
    body = json_or_none(response)
    if not is_success(response) or not location or not isinstance(body, dict):
        raise SetupFailed(f"newAccount did not create an account ({describe_response(response)})")
    return response, Account(key=key, url=location, body=body)


@check(
    "account.create-returns-201",
    title="newAccount with a fresh key answers 201 (Created), a Location and the account object",
    section="RFC 8555 §7.3",
    level="descr.",
    requirements=["ACCT-1", "LOC-1"],
    sentence=_CREATE_SENTENCE,
    tags=["basic"],
)
def create_returns_201(ctx: CheckContext) -> None:
    response = new_account_raw(ctx, contact=[mailto(ctx)], terms_agreed=True)
    if problem_type(response) in (full_type("invalidContact"), full_type("unsupportedContact")):
        # The address was refused by policy (judged by the contact checks): creation is judged without it.
        ctx.note(f"the contact was refused ({describe_response(response)}); retried without a contact")
        response = new_account_raw(ctx, terms_agreed=True, what="newAccount with a fresh key, no contact")
    expect_status(response, {201}, "newAccount with a fresh key")
    location = expect_header(response, "Location", "newAccount 201")
    if not _absolute_url(location):
        raise fail("the Location of the new account is not an absolute URL", expected="an https:// URL",
                   actual=repr(location))
    expect_json_object(response, "newAccount 201")


@check(
    "account.created-status-valid",
    title='A new account object has status "valid"',
    section="RFC 8555 §7.1.2",
    level="REQUIRED",
    requirements=["ACCT-2"],
    sentence='status (required, string): The status of this account. Possible values are "valid", '
    '"deactivated", and "revoked".',
    tags=["basic"],
)
def created_status_valid(ctx: CheckContext) -> None:
    response, _ = _create(ctx)
    body = expect_json_object(response, "newAccount")
    if body.get("status") != "valid":
        raise fail("the new account is not valid", expected='"status": "valid"', actual=f"status {body.get('status')!r}")


@check(
    "account.has-orders-url",
    title="The account object has an orders URL (a string)",
    section="RFC 8555 §7.1.2",
    level="REQUIRED",
    requirements=["ACCT-3"],
    sentence="orders (required, string): A URL from which a list of orders submitted by this account can be "
    "fetched via a POST-as-GET request",
    tags=["account"],
)
def has_orders_url(ctx: CheckContext) -> None:
    account = ctx.new_account()
    body = account_object(ctx, account)
    orders = body.get("orders")
    if not isinstance(orders, str) or not _absolute_url(orders):
        raise fail("the account object has no orders URL", expected='"orders": "<URL>"', actual=f"orders {orders!r}")


def _orders_pages(ctx: CheckContext, account: Account, url: str) -> list[str]:
    """Every order URL over all pages; the first page's shape is judged as the MUST of §7.1.2.1."""
    seen: list[str] = []
    visited: set[str] = set()
    page: str | None = url
    while page is not None and page not in visited and len(visited) < 20:
        visited.add(page)
        with noting("POST-as-GET the orders list"):
            response = ctx.session.post_as_get(page, account)
        expect_status(response, {200}, "POST-as-GET of the orders list")
        body = json_or_none(response)
        if not isinstance(body, dict) or not isinstance(body.get("orders"), list) or not all(
            isinstance(item, str) for item in body["orders"]
        ):
            raise fail("the orders list is not an object with an array of URLs",
                       expected='{"orders": ["<URL>", ...]}', actual=response.content[:200].decode("utf-8", "replace"))
        seen.extend(body["orders"])
        nexts = link_targets(response, "next")
        page = nexts[0] if nexts else None
    return seen


@check(
    "account.orders-list-object",
    title="The orders list is an object whose orders array lists pending but not invalid orders",
    section="RFC 8555 §7.1.2.1",
    level="MUST",
    requirements=["ACCT-4"],
    sentence='The result of the request MUST be a JSON object whose "orders" field is an array of URLs, each '
    "identifying an order belonging to the account. The server SHOULD include pending orders and SHOULD NOT "
    "include orders that are invalid in the array of URLs.",
    tags=["account"],
)
def orders_list_object(ctx: CheckContext) -> None:
    account = ctx.new_account()
    orders_url = account_object(ctx, account).get("orders")
    if not isinstance(orders_url, str):
        raise SetupFailed("the account object has no orders URL (judged by account.has-orders-url)")
    pending = ctx.session.create_order(account, ctx.new_identifiers())
    doomed = ctx.session.create_order(account, ctx.new_identifiers())
    # Deactivating an authorization is the client's way to make its order invalid (§7.5.2, §7.1.6).
    authz_urls = doomed.body.get("authorizations")
    doomed_status = None
    if isinstance(authz_urls, list) and authz_urls:
        with noting("deactivate the second order's authorization"):
            ctx.session.signed(str(authz_urls[0]), {"status": "deactivated"}, account)
        doomed_status = ctx.session.refresh(doomed).status
    listed = _orders_pages(ctx, account, orders_url)
    if pending.url not in listed:
        raise Warned("a pending order is missing from the orders list (SHOULD include pending orders)",
                     expected=pending.url, actual=", ".join(listed) or "(empty list)")
    if doomed_status != "invalid":
        # Only an order the server itself calls invalid is judged (Pebble says "deactivated", not an order status).
        ctx.note(f"the order whose authorization was deactivated is {doomed_status!r}, not 'invalid': "
                 "the SHOULD NOT part is not judged")
    elif doomed.url in listed:
        raise Warned("an invalid order is in the orders list (SHOULD NOT include invalid orders)",
                     expected=f"not {doomed.url}", actual=", ".join(listed))


@check(
    "account.new-account-ignores-orders",
    title="newAccount ignores a client-supplied orders value",
    section="RFC 8555 §7.3",
    level="MUST",
    requirements=["ACCT-5"],
    sentence='The server MUST ignore any values provided in the "orders" fields in account objects sent by the '
    "client",
    tags=["basic"],
)
def new_account_ignores_orders(ctx: CheckContext) -> None:
    bogus = "https://orders.invalid/acme-conformance"
    key = ctx.new_key()
    response = new_account_raw(ctx, key, extra={"orders": bogus})
    if not is_success(response):
        raise fail("newAccount with an orders value was refused instead of ignoring the field",
                   expected="the account is created", actual=describe_response(response))
    body = expect_json_object(response, "newAccount")
    location = response.headers.get("Location")
    if body.get("orders") == bogus:
        raise fail("the account took the client's orders URL", expected="a server-generated orders URL", actual=bogus)
    if location:
        later = account_object(ctx, Account(key=key, url=location, body=body))
        if later.get("orders") == bogus:
            raise fail("the stored account took the client's orders URL", expected="a server-generated URL",
                       actual=bogus)


@check(
    "account.unknown-fields-not-reflected",
    title="newAccount ignores unknown fields and reflects neither them nor onlyReturnExisting",
    section="RFC 8555 §7.3",
    level="MUST",
    requirements=["ACCT-6"],
    sentence='The server MUST NOT reflect the "onlyReturnExisting" field or any unrecognized fields in the '
    "resulting account object.",
    tags=["basic"],
)
def unknown_fields_not_reflected(ctx: CheckContext) -> None:
    key = ctx.new_key()
    # The unknown field alone first, so a refusal is attributed to it and nothing else.
    response = new_account_raw(ctx, key, extra={"x-acme-conformance": "v"})
    if not is_success(response):
        raise fail("newAccount with an unknown field was refused instead of ignoring it",
                   expected="the account is created", actual=describe_response(response))
    body = expect_json_object(response, "newAccount")
    bodies = [("the newAccount response", body)]
    location = response.headers.get("Location")
    if location:
        bodies.append(("the account fetched later", account_object(ctx, Account(key=key, url=location, body=body))))
    # onlyReturnExisting=false on a new key: a valid request that must create the account, unreflected.
    second = new_account_raw(ctx, ctx.new_key(), extra={"onlyReturnExisting": False})
    second_body = json_or_none(second)
    if is_success(second) and isinstance(second_body, dict):
        bodies.append(("the newAccount response to onlyReturnExisting=false", second_body))
    else:
        ctx.note(f"newAccount with onlyReturnExisting=false was refused ({describe_response(second)})")
    for where, value in bodies:
        reflected = sorted(name for name in ("x-acme-conformance", "onlyReturnExisting") if name in value)
        if reflected:
            raise fail(f"{where} reflects request-only fields", expected="neither x-acme-conformance nor "
                       "onlyReturnExisting", actual=", ".join(reflected))


@check(
    "account.mailto-contact-supported",
    title="A server that validates contacts supports mailto",
    section="RFC 8555 §7.3",
    level="MUST",
    requirements=["ACCT-7"],
    sentence='If the server validates contact URLs, it MUST support the "mailto" scheme.',
    tags=["basic"],
)
def mailto_contact_supported(ctx: CheckContext) -> None:
    response = new_account_raw(ctx, contact=[mailto(ctx)])
    if is_success(response):
        return
    kind = problem_type(response)
    if kind == full_type("unsupportedContact"):
        raise fail("the server refuses mailto as an unsupported contact scheme", expected="mailto accepted",
                   actual=describe_response(response))
    if kind == full_type("invalidContact"):
        # Refusing one address by policy (e.g. its domain) is not refusing the scheme.
        raise Informational(f"the server refused this mailto address by policy ({describe_response(response)})")
    raise SetupFailed(f"newAccount with a mailto contact was refused ({describe_response(response)})")


def _contact_rejection(ctx: CheckContext, values: list[list[str]], wanted: str, accepted: str) -> None:
    """Each value may be accepted (noted) but a rejection must carry the ``wanted`` problem type."""
    for contact in values:
        response = new_account_raw(ctx, contact=contact, what=f"newAccount with contact {contact}")
        if is_success(response):
            ctx.note(f"{contact} was {accepted}")
            continue
        expect_problem(response, [wanted], f"newAccount with contact {contact} was rejected with the wrong type")


@check(
    "account.unsupported-contact-scheme",
    title="A contact with an unsupported scheme is rejected as unsupportedContact",
    section="RFC 8555 §7.3",
    level="MUST",
    requirements=["ACCT-8"],
    sentence='If the server rejects a contact URL for using an unsupported scheme, it MUST return an error of type '
    '"unsupportedContact", with a description of the error and what types of contact URLs the server considers '
    "acceptable.",
    tags=["basic"],
)
def unsupported_contact_scheme(ctx: CheckContext) -> None:
    _contact_rejection(ctx, [["tel:+15555550100"], ["xmpp:acme@conformance.example"]], "unsupportedContact",
                       "accepted (the server supports or does not validate the scheme)")


@check(
    "account.invalid-mailto-contact",
    title="An invalid mailto contact is rejected as invalidContact",
    section="RFC 8555 §7.3",
    level="MUST",
    requirements=["ACCT-9"],
    sentence="If the server rejects a contact URL for using a supported scheme but an invalid value, then the "
    'server MUST return an error of type "invalidContact".',
    tags=["basic"],
)
def invalid_mailto_contact(ctx: CheckContext) -> None:
    _contact_rejection(ctx, [["mailto:"], ["mailto:not-an-address"], ["mailto:a@"]], "invalidContact",
                       "accepted (the server does not validate contacts)")


@check(
    "account.mailto-hfields-rejected",
    title="mailto contacts with hfields or several addresses are rejected as invalid",
    section="RFC 8555 §7.3",
    level="SHOULD",
    requirements=["ACCT-10"],
    sentence='Clients MUST NOT provide a "mailto" URL in the "contact" field that contains "hfields" [RFC6068] or '
    'more than one "addr-spec" in the "to" component. If a server encounters a "mailto" contact URL that does not '
    "meet these criteria, then it SHOULD reject it as invalid.",
    tags=["basic"],
)
def mailto_hfields_rejected(ctx: CheckContext) -> None:
    domain = ctx.run.options.base_domain
    for value in (f"mailto:a@{domain}?subject=x", f"mailto:a@{domain},b@{domain}"):
        response = new_account_raw(ctx, contact=[value], what=f"newAccount with contact {value}")
        if is_success(response):
            raise fail("a mailto contact breaking RFC 8555 §7.3 was accepted", expected="invalidContact",
                       actual=f"{value}: {describe_response(response)}")
        expect_problem(response, ["invalidContact"], f"{value} was rejected with the wrong type")


@check(
    "account.terms-agreement-required",
    title="With termsOfService advertised, newAccount without agreement is rejected (and only then)",
    section="RFC 8555 §7.3",
    level="MUST",
    requirements=["ACCT-11"],
    sentence='If the server wishes to require the client to agree to terms under which the ACME service is to be '
    'used, it MUST indicate the URL where such terms can be accessed in the "termsOfService" subfield of the "meta" '
    'field in the directory object, and the server MUST reject newAccount requests that do not have the '
    '"termsOfServiceAgreed" field set to "true".',
    tags=["basic"],
)
def terms_agreement_required(ctx: CheckContext) -> None:
    meta = ctx.directory.get("meta")
    advertised = isinstance(meta, dict) and isinstance(meta.get("termsOfService"), str)
    accepted = []
    for agreed in (None, False):
        what = "newAccount without termsOfServiceAgreed" if agreed is None else "newAccount with termsOfServiceAgreed false"
        response = new_account_raw(ctx, terms_agreed=agreed, what=what)
        if is_success(response):
            accepted.append(what)
            continue
        kind = problem_type(response) or ""
        if not advertised and kind.rsplit(":", 1)[-1] in ("userActionRequired", "agreementRequired"):
            raise fail("the server demands agreement to terms it does not advertise", expected="meta.termsOfService "
                       "in the directory", actual=describe_response(response))
        if not advertised:
            raise SetupFailed(f"{what} was refused ({describe_response(response)})")
        terms = link_targets(response, "terms-of-service")
        ctx.note(f"{what}: {describe_response(response)}" + (f"; Link terms-of-service {terms[0]}" if terms else ""))
    if not advertised:
        raise Skipped("the directory advertises no termsOfService (and the server does not demand agreement)")
    if accepted:
        # Advertising terms does not oblige a server to require agreement (it "wishes to require").
        raise Informational("termsOfService is advertised but agreement is not required: " + "; ".join(accepted))


def _existing(ctx: CheckContext) -> tuple[Account, list[str]]:
    contact = [mailto(ctx, "first")]
    _, account = _create(ctx, contact=contact)
    return account, contact


@check(
    "account.existing-key-returns-200",
    title="newAccount with a registered key answers 200 with the existing account's Location",
    section="RFC 8555 §7.3.1",
    level="MUST",
    requirements=["LOC-2"],
    sentence="If the server receives a newAccount request signed with a key for which it already has an account "
    "registered with the provided account key, then it MUST return a response with status code 200 (OK) and "
    "provide the URL of that account in the Location header field.",
    tags=["account"],
)
def existing_key_returns_200(ctx: CheckContext) -> None:
    account, _ = _existing(ctx)
    response = new_account_raw(ctx, account.key, "newAccount again with the same key")
    expect_status(response, {200}, "newAccount with a registered key")
    location = expect_header(response, "Location", "newAccount with a registered key")
    if location != account.url:
        raise fail("the Location is not the existing account's URL", expected=account.url, actual=location)


@check(
    "account.existing-key-ignores-fields",
    title="newAccount with a registered key shows the account as it was and changes nothing",
    section="RFC 8555 §7.3.1",
    level="MUST",
    requirements=["ACCT-12"],
    sentence="The body of this response represents the account object as it existed on the server before this "
    "request; any fields in the request object MUST be ignored.",
    tags=["account"],
)
def existing_key_ignores_fields(ctx: CheckContext) -> None:
    account, original = _existing(ctx)
    before = contacts(account_object(ctx, account, "the account before"))
    changed = [mailto(ctx, "second")]
    response = new_account_raw(ctx, account.key, "newAccount again with the same key and another contact",
                               contact=changed)
    if not is_success(response):
        raise fail("newAccount with a registered key was refused", expected="HTTP 200",
                   actual=describe_response(response))
    body = expect_json_object(response, "newAccount with a registered key")
    if contacts(body) != before:
        raise fail("the response does not show the account as it was before the request",
                   expected=f"contact {before}", actual=f"contact {contacts(body)}")
    after = contacts(account_object(ctx, account, "the account after"))
    if after != before:
        raise fail("the request's contact was applied to the existing account", expected=f"contact {before}",
                   actual=f"contact {after}")
    if before != original:
        ctx.note(f"the server stores contacts as {before} (sent {original})")


@check(
    "account.one-account-per-key",
    title="Repeated newAccount requests with one key always name the same account",
    section="RFC 8555 §7.3.1",
    level="MUST",
    requirements=["ACCT-16"],
    sentence="If the server receives a newAccount request signed with a key for which it already has an account "
    "registered with the provided account key, then it MUST return a response with status code 200 (OK) and "
    "provide the URL of that account in the Location header field.",
    tags=["account"],
)
def one_account_per_key(ctx: CheckContext) -> None:
    account, _ = _existing(ctx)
    for attempt in range(3):
        response = new_account_raw(ctx, account.key, f"newAccount with the same key, repeat {attempt + 1}",
                                   contact=[mailto(ctx, f"repeat{attempt}")])
        location = response.headers.get("Location")
        if not is_success(response) or location != account.url:
            raise fail("a repeated newAccount did not name the one existing account", expected=account.url,
                       actual=f"{describe_response(response)}, Location {location!r}")


@check(
    "account.only-return-existing-unknown-key",
    title="onlyReturnExisting with an unknown key gives 400 accountDoesNotExist and creates nothing",
    section="RFC 8555 §7.3.1",
    level="MUST",
    requirements=["ACCT-13"],
    sentence="If a client sends such a request and an account does not exist, then the server MUST return an error "
    'response with status code 400 (Bad Request) and type "urn:ietf:params:acme:error:accountDoesNotExist".',
    tags=["basic"],
)
def only_return_existing_unknown(ctx: CheckContext) -> None:
    key = ctx.new_key()
    for attempt in ("", " again"):
        response = new_account_raw(ctx, key, f"newAccount onlyReturnExisting with an unknown key{attempt}",
                                   only_return_existing=True)
        expect_problem(response, ["accountDoesNotExist"], f"onlyReturnExisting for an unknown key{attempt}",
                       statuses={400})


@check(
    "account.only-return-existing-found",
    title="onlyReturnExisting with a registered key answers 200, its Location and the account",
    section="RFC 8555 §7.3.1",
    level="MUST",
    requirements=["ACCT-14"],
    sentence="If the server receives a newAccount request signed with a key for which it already has an account "
    "registered with the provided account key, then it MUST return a response with status code 200 (OK) and "
    "provide the URL of that account in the Location header field.",
    tags=["account"],
)
def only_return_existing_found(ctx: CheckContext) -> None:
    account, _ = _existing(ctx)
    response = new_account_raw(ctx, account.key, "newAccount onlyReturnExisting", only_return_existing=True)
    expect_status(response, {200}, "onlyReturnExisting with a registered key")
    location = expect_header(response, "Location", "onlyReturnExisting")
    if location != account.url:
        raise fail("the Location is not the existing account's URL", expected=account.url, actual=location)
    body = expect_json_object(response, "onlyReturnExisting")
    if body.get("status") != "valid":
        raise fail("the body is not the account object", expected='an account object with "status": "valid"',
                   actual=response.content[:200].decode("utf-8", "replace"))


@check(
    "account.contact-reflected",
    title="The account object lists the contacts it was created with",
    section="RFC 8555 §7.3",
    level="descr.",
    requirements=["ACCT-17"],
    sentence="contact (optional, array of string): An array of URLs that the server can use to contact the client "
    "for issues related to this account.",
    tags=["account"],
)
def contact_reflected(ctx: CheckContext) -> None:
    account, contact = _existing(ctx)
    shown = contacts(account_object(ctx, account))
    if shown != contact:
        # Not stored is a legitimate choice (Let's Encrypt no longer keeps contacts): report, do not grade.
        raise Informational(f"the account shows contact {shown} after creation with {contact}")


not_judged("TOS-1", "needs a server whose terms of service change during the run (lab set-up); Pebble's are fixed")
not_judged("TOS-2", "needs a terms-of-service change, and the RFC gives no in-band way to re-agree (information only)")
not_judged("LINK-6", "the terms-of-service Link on userActionRequired needs a terms change; Pebble's are fixed")
