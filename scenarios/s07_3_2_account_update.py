"""Account update (RFC 8555 §7.3.2) and the contact rules it inherits from §7.3.

The "MUST ignore" fields are sent together with a real contact change: a server that refuses an
update carrying only ignored fields as "empty" (Pebble does) is then judged on the field alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from conformance.acme import Account, SetupFailed, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.judge import expect_json_object, expect_problem, expect_status, fail
from conformance.model import Informational, Warned
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._account_helpers import account_object, contacts, is_success, mailto

_IGNORE_SENTENCE = (
    'The server MUST ignore any updates to the "orders" field, "termsOfServiceAgreed" field (see Section 7.3.3), '
    'the "status" field (except as allowed by Section 7.3.6), or any other fields it does not recognize.'
)


def _update(ctx: CheckContext, account: Account, payload: dict[str, Any], what: str) -> httpx.Response:
    with noting(what):
        return ctx.session.signed(account.url, payload, account)


def _control_update(ctx: CheckContext, account: Account) -> None:
    """A plain contact update first: if the server refuses even that, the field checks cannot judge."""
    response = _update(ctx, account, {"contact": [mailto(ctx, "control")]}, "a plain contact update (control)")
    if response.status_code != 200:
        raise SetupFailed(f"the server refuses a plain contact update ({describe_response(response)})")


def _ignored_field(
    ctx: CheckContext,
    name: str,
    value: Any,
    judge: Callable[[dict[str, Any], dict[str, Any]], str | None],
    on_refusal: type[Exception] | None = None,
) -> None:
    """Update contact plus ``name: value``; ``judge(before, after)`` names what changed wrongly, if anything."""
    account = ctx.new_account()
    _control_update(ctx, account)
    before = account_object(ctx, account, "the account before")
    response = _update(ctx, account, {"contact": [mailto(ctx, "new")], name: value},
                       f"update with a contact change and {name} = {value!r}")
    if not is_success(response):
        message = f"an update carrying {name} was refused instead of ignoring the field"
        if on_refusal is not None:
            raise on_refusal(message, expected="HTTP 200 with the field ignored", actual=describe_response(response))
        raise fail(message, expected="HTTP 200 with the field ignored", actual=describe_response(response))
    for where, after in (("the update response", json_or_none(response)),
                         ("the account fetched afterwards", account_object(ctx, account, "the account after"))):
        if isinstance(after, dict):
            problem = judge(before, after)
            if problem:
                raise fail(f"{where}: {problem}", expected=f"{name} ignored", actual=str(after)[:300])


@check(
    "account.update-contact",
    title="A contact update answers 200 with the resulting account object",
    section="RFC 8555 §7.3.2",
    level="MUST",
    requirements=["UPD-1"],
    sentence="If the server accepts the update, it MUST return a response with a 200 (OK) status code and the "
    "resulting account object.",
    tags=["account"],
)
def update_contact(ctx: CheckContext) -> None:
    account = ctx.new_account()
    wanted = [mailto(ctx, "updated")]
    response = _update(ctx, account, {"contact": wanted}, "update the contact")
    if 400 <= response.status_code < 500:
        raise Informational(f"the server refused the contact update ({describe_response(response)})")
    expect_status(response, {200}, "an accepted account update")
    body = expect_json_object(response, "an accepted account update")
    if contacts(body) != wanted:
        raise Warned("the update was accepted but the resulting account does not show the new contact",
                     expected=f"contact {wanted}", actual=f"contact {contacts(body)}")


@check(
    "account.update-ignores-orders",
    title="An account update ignores an orders value",
    section="RFC 8555 §7.3.2",
    level="MUST",
    requirements=["UPD-2"],
    sentence=_IGNORE_SENTENCE,
    tags=["account"],
)
def update_ignores_orders(ctx: CheckContext) -> None:
    bogus = "https://orders.invalid/acme-conformance"

    def judge(before: dict[str, Any], after: dict[str, Any]) -> str | None:
        return None if after.get("orders") == before.get("orders") else f"the orders URL became {after.get('orders')!r}"

    _ignored_field(ctx, "orders", bogus, judge)


@check(
    "account.update-ignores-terms-agreed",
    title="An account update ignores termsOfServiceAgreed: false",
    section="RFC 8555 §7.3.2",
    level="MUST",
    requirements=["UPD-3"],
    sentence=_IGNORE_SENTENCE,
    tags=["account"],
)
def update_ignores_terms(ctx: CheckContext) -> None:
    def judge(before: dict[str, Any], after: dict[str, Any]) -> str | None:
        if after.get("termsOfServiceAgreed") is False and before.get("termsOfServiceAgreed") is not False:
            return "termsOfServiceAgreed became false"
        if after.get("status") != before.get("status"):
            return f"the status changed to {after.get('status')!r}"
        return None

    _ignored_field(ctx, "termsOfServiceAgreed", False, judge)


@check(
    "account.update-ignores-status",
    title='An account update ignores status values other than "deactivated"',
    section="RFC 8555 §7.3.2",
    level="MUST",
    requirements=["UPD-4"],
    sentence=_IGNORE_SENTENCE,
    tags=["account"],
)
def update_ignores_status(ctx: CheckContext) -> None:
    refused: list[str] = []
    for status in ("revoked", "valid"):
        account = ctx.new_account()
        response = _update(ctx, account, {"contact": [mailto(ctx, "new")], "status": status},
                           f'update with a contact change and status "{status}"')
        for where, body in (("the update response", json_or_none(response) if is_success(response) else None),
                            ("the account fetched afterwards", account_object(ctx, account, "the account after"))):
            if isinstance(body, dict) and body.get("status") != "valid":
                raise fail(f'{where}: the client changed the account status with "{status}"',
                           expected='"status": "valid"', actual=f"status {body.get('status')!r}")
        if not is_success(response):
            refused.append(f"status {status!r}: {describe_response(response)}")
    if refused:
        # The status did not change, but refusing the update is not ignoring the field.
        raise Warned("an update carrying a status field was refused instead of ignoring the field",
                     expected="HTTP 200 with the status field ignored", actual="; ".join(refused))


@check(
    "account.update-ignores-unknown-fields",
    title="An account update ignores unrecognised fields",
    section="RFC 8555 §7.3.2",
    level="MUST",
    requirements=["UPD-5"],
    sentence=_IGNORE_SENTENCE,
    tags=["account"],
)
def update_ignores_unknown(ctx: CheckContext) -> None:
    def judge(before: dict[str, Any], after: dict[str, Any]) -> str | None:
        return "the unknown field was reflected" if "x-acme-conformance" in after else None

    _ignored_field(ctx, "x-acme-conformance", 1, judge)


@check(
    "account.update-contact-rules",
    title="An update with an unsupported or invalid contact gets unsupportedContact / invalidContact",
    section="RFC 8555 §7.3",
    level="MUST",
    requirements=["UPD-7"],
    sentence='If the server rejects a contact URL for using an unsupported scheme, it MUST return an error of type '
    '"unsupportedContact" ... If the server rejects a contact URL for using a supported scheme but an invalid value, '
    'then the server MUST return an error of type "invalidContact".',
    tags=["account"],
)
def update_contact_rules(ctx: CheckContext) -> None:
    account = ctx.new_account()
    for contact, wanted in ((["tel:+15555550100"], "unsupportedContact"), (["mailto:not-an-address"], "invalidContact")):
        response = _update(ctx, account, {"contact": contact}, f"update with contact {contact}")
        if is_success(response):
            ctx.note(f"the update to {contact} was accepted (the server does not validate that contact)")
            continue
        expect_problem(response, [wanted], f"the update to {contact} was rejected with the wrong type")


@check(
    "account.update-by-other-account",
    title="Another account cannot update an account",
    section="RFC 8555 §7.3.2",
    level="descr.",
    requirements=["UPD-8"],
    sentence="If the client wishes to update this information in the future, it sends a POST request with updated "
    "information to the account URL.",
    tags=["account", "two-accounts"],
)
def update_by_other_account(ctx: CheckContext) -> None:
    victim = ctx.new_account(contact=[mailto(ctx, "victim")])
    other = ctx.new_account()
    before = contacts(account_object(ctx, victim, "account A before"))
    with noting("account B signs a contact update posted to account A's URL"):
        response = ctx.session.post(victim.url, {"contact": [mailto(ctx, "intruder")]}, other.key, kid=other.url)
    after = contacts(account_object(ctx, victim, "account A after"))
    if after != before:
        raise fail("another account changed this account's contact", expected=f"contact {before}",
                   actual=f"contact {after}")
    if is_success(response):
        body = json_or_none(response)
        changed = isinstance(body, dict) and body.get("orders") == other.body.get("orders")
        raise fail("an update posted to account A's URL but signed by account B was accepted"
                   + (" (and applied to account B)" if changed else ""),
                   expected="a 4xx error (e.g. unauthorized)", actual=describe_response(response))


not_judged("UPD-6", "an empty update {} is not prohibited by the RFC; 200 or an error are both readings (information)")
