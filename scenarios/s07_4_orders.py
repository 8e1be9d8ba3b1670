"""Orders (RFC 8555 §7.1.3, §7.1.2.1, §7.4, §6.7): creation, fields, identifiers, authorizations,
identifier rejection, requested validity, and the account's orders list with pagination.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import httpx

from conformance.acme import Account, Order, json_or_none, link_targets
from conformance.context import CheckContext
from conformance.csr import make_csr
from conformance.judge import expect_json_object, expect_rejected, expect_status, fail
from conformance.model import CouldNotTest, Skipped, Warned
from conformance.recorder import noting
from conformance.registry import check, not_judged
from conformance.responders.base import Identifier
from scenarios._orders import (
    ORDER_STATUSES,
    RFC3339,
    certificate_names,
    download,
    invalid_order,
    load_chain,
    pending_order,
    ready_order,
    settle,
    short_type,
)

# -- helpers ------------------------------------------------------------------------------------


def _judge_fields(body: dict[str, Any], stage: str) -> None:
    """§7.1.3: the required members and their types, at one observed status."""
    status = body.get("status")
    if not isinstance(status, str) or status not in ORDER_STATUSES:
        raise fail(f"{stage}: the order's status is missing or not an order status",
                   expected="status one of " + ", ".join(sorted(ORDER_STATUSES)), actual=repr(status))
    identifiers = body.get("identifiers")
    if (not isinstance(identifiers, list) or not identifiers
            or not all(isinstance(i, dict) and isinstance(i.get("type"), str) and isinstance(i.get("value"), str)
                       for i in identifiers)):
        raise fail(f"{stage}: identifiers is not an array of {{type, value}} objects",
                   expected="identifiers (required, array of object)", actual=repr(identifiers)[:200])
    authorizations = body.get("authorizations")
    if not isinstance(authorizations, list) or not all(isinstance(u, str) for u in authorizations):
        raise fail(f"{stage}: authorizations is not an array of URLs",
                   expected="authorizations (required, array of string)", actual=repr(authorizations)[:200])
    if not isinstance(body.get("finalize"), str):
        raise fail(f"{stage}: finalize is not a URL string", expected="finalize (required, string)",
                   actual=repr(body.get("finalize")))
    expires = body.get("expires")
    if status in ("pending", "valid") and expires is None:
        raise fail(f"{stage}: a {status} order has no expires",
                   expected='expires: "REQUIRED for objects with "pending" or "valid" in the status field"',
                   actual="no expires member")
    for name in ("expires", "notBefore", "notAfter"):
        value = body.get(name)
        if value is not None and not (isinstance(value, str) and RFC3339.match(value)):
            raise fail(f"{stage}: {name} is not an RFC 3339 timestamp", expected="RFC 3339 date-time",
                       actual=repr(value))
    if "certificate" in body and not isinstance(body["certificate"], str):
        raise fail(f"{stage}: certificate is not a URL string", expected="certificate (optional, string)",
                   actual=repr(body["certificate"]))


def _walk(ctx: CheckContext, identifiers: list[Identifier],
          judge: Callable[[str, dict[str, Any]], None]) -> None:
    """Take one order from creation to valid, judging the order object seen at every stage as soon as
    it is seen (so a broken object fails the check before it can break the next step)."""
    ctx.require_challenge_type("http-01")
    account = ctx.new_account()
    order = ctx.session.create_order(account, identifiers)
    judge("newOrder response", dict(order.body))
    ctx.session.validate_order(order, "http-01", ctx.backend)
    ready = ctx.session.poll(order.url, account, lambda b: b.get("status") != "pending", "order")
    judge(f"after validation ({ready.get('status')})", dict(ready))
    order.body = ready
    csr_der, _ = make_csr([i.value for i in identifiers])
    with noting("finalize the order"):
        response = ctx.session.finalize_request(order, csr_der)
    expect_status(response, {200}, "finalize")
    finalized = expect_json_object(response, "finalize response")
    judge(f"finalize response ({finalized.get('status')})", finalized)
    final = settle(ctx, order)
    judge(f"after finalize ({final.get('status')})", dict(final))


def _identifier_set(body: dict[str, Any]) -> set[tuple[str, str]]:
    items = body.get("identifiers")
    if not isinstance(items, list):
        return set()
    return {(str(i.get("type")), str(i.get("value")).lower()) for i in items if isinstance(i, dict)}


def _new_order(ctx: CheckContext, account: Account, payload: dict[str, Any], what: str) -> httpx.Response:
    with noting(what):
        return ctx.session.signed(ctx.session.url_for("newOrder"), payload, account)


# -- creation and fields ------------------------------------------------------------------------


@check(
    "order.new-order-created",
    title="newOrder answers 201 Created with a Location header and an order object",
    section="RFC 8555 §7.4",
    level="descr.",
    requirements=["ORD-1"],
    sentence="If the server is willing to issue the requested certificate, it responds with a 201 (Created) "
    "response. The body of this response is an order object reflecting the client's request ...",
    tags=["account"],
)
def new_order_created(ctx: CheckContext) -> None:
    account = ctx.new_account()
    response = _new_order(ctx, account, {"identifiers": [{"type": "dns", "value": ctx.new_domain()}]}, "newOrder")
    expect_status(response, {201}, "newOrder")
    if not response.headers.get("Location"):
        raise fail("newOrder: no Location header", expected="Location: the order URL", actual="no Location")
    body = expect_json_object(response, "newOrder")
    if not isinstance(body.get("status"), str):
        raise fail("newOrder: the body is not an order object", expected="an order object with status",
                   actual=repr(body)[:200])


@check(
    "order.fields-present",
    title="Order objects carry status, identifiers, authorizations, finalize and (pending/valid) expires",
    section="RFC 8555 §7.1.3",
    level="REQUIRED",
    requirements=["ORD-2"],
    sentence="status (required, string) ... expires (optional, string): ... This field is REQUIRED for "
    "objects with \"pending\" or \"valid\" in the status field. identifiers (required, array of object) ... "
    "authorizations (required, array of string) ... finalize (required, string)",
    tags=["account", "validation", "issuance"],
)
def fields_present(ctx: CheckContext) -> None:
    _walk(ctx, ctx.new_identifiers(), lambda stage, body: _judge_fields(body, stage))


@check(
    "order.initial-status",
    title="A new order is pending, or ready only when all its authorizations are already valid",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["ORD-3"],
    sentence="Order objects are created in the \"pending\" state. Once all of the authorizations listed in "
    "the order object are in the \"valid\" state, the order transitions to the \"ready\" state.",
    tags=["account"],
)
def initial_status(ctx: CheckContext) -> None:
    order = ctx.session.create_order(ctx.new_account(), ctx.new_identifiers())
    if order.status == "pending":
        return
    if order.status != "ready":
        raise fail("a new order is neither pending nor ready", expected="pending (or ready with valid authz)",
                   actual=repr(order.status))
    for url, authz in ctx.session.authorizations(order):
        if authz.get("status") != "valid":
            raise fail("a new order is ready although one of its authorizations is not valid",
                       expected="every authorization valid", actual=f"{url}: {authz.get('status')!r}")


@check(
    "order.identifiers-as-requested",
    title="The order's identifiers are the requested set (in any order)",
    section="RFC 8555 §7.4",
    level="descr.",
    requirements=["ORD-4"],
    sentence="The body of this response is an order object reflecting the client's request ... Clients MUST NOT "
    "make any assumptions about the sort order of \"identifiers\" or \"authorizations\" elements",
    tags=["account"],
)
def identifiers_as_requested(ctx: CheckContext) -> None:
    identifiers = ctx.new_identifiers(3)
    order = ctx.session.create_order(ctx.new_account(), identifiers)
    wanted = {(i.type, i.value.lower()) for i in identifiers}
    got = _identifier_set(order.body)
    if got != wanted:
        raise fail("the order's identifiers differ from the request", expected=repr(sorted(wanted)),
                   actual=repr(sorted(got)))


@check(
    "order.arrays-immutable",
    title="identifiers and authorizations never change from pending to valid",
    section="RFC 8555 §7.1.3",
    level="MUST NOT",
    requirements=["ORD-5"],
    sentence="The elements of the \"authorizations\" and \"identifiers\" arrays are immutable once set. The "
    "server MUST NOT change the contents of either array after they are created.",
    tags=["account", "validation", "issuance"],
)
def arrays_immutable(ctx: CheckContext) -> None:
    first: list[tuple[str, dict[str, Any]]] = []

    def authorizations(body: dict[str, Any]) -> set[str]:
        value = body.get("authorizations")
        return set(map(str, value)) if isinstance(value, list) else set()

    def compare(stage: str, body: dict[str, Any]) -> None:
        if not first:
            first.append((stage, body))
            return
        first_stage, original = first[0]
        for name, key in (("identifiers", _identifier_set), ("authorizations", authorizations)):
            if key(original) != key(body):
                raise fail(f"the order's {name} changed between '{first_stage}' and '{stage}'",
                           expected=repr(original.get(name))[:300], actual=repr(body.get(name))[:300])

    _walk(ctx, ctx.new_identifiers(2), compare)


@check(
    "order.authorizations-cover-identifiers",
    title="Every authorization URL of a new order is fetchable and together they cover its identifiers",
    section="RFC 8555 §7.1.3",
    level="SHOULD",
    requirements=["ORD-6"],
    sentence="authorizations (required, array of string): For pending orders, the authorizations that the "
    "client needs to complete before the requested certificate can be issued ... Each entry is a URL from "
    "which an authorization can be fetched with a POST-as-GET request.",
    tags=["account"],
)
def authorizations_cover(ctx: CheckContext) -> None:
    identifiers = ctx.new_identifiers(2)
    order = ctx.session.create_order(ctx.new_account(), identifiers)
    covered: set[str] = set()
    listed = order.body.get("authorizations")
    if not isinstance(listed, list):
        raise fail("the order has no authorizations array", expected="authorizations (array of URLs)",
                   actual=repr(listed)[:200])
    for url in listed:
        with noting("fetch an authorization of the order"):
            response = ctx.session.post_as_get(str(url), order.account)
        if response.status_code != 200:
            raise fail("an authorization URL of the order cannot be fetched", expected="HTTP 200",
                       actual=f"{url}: HTTP {response.status_code}")
        body = json_or_none(response)
        ident = body.get("identifier") if isinstance(body, dict) else None
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            prefix = "*." if body.get("wildcard") is True else ""
            covered.add(prefix + ident["value"].lower())
    missing = sorted({i.value.lower() for i in identifiers} - covered)
    if missing:
        raise fail("some identifiers of the order have no authorization", expected="an authorization per identifier",
                   actual="uncovered: " + ", ".join(missing))


@check(
    "order.wildcard-authorization",
    title="A wildcard identifier's authorization drops the '*.' prefix and says wildcard: true",
    section="RFC 8555 §7.1.3",
    level="MUST",
    requirements=["ORD-7"],
    sentence="An authorization returned by the server for a wildcard domain name identifier MUST NOT include "
    "the asterisk and full stop (\"*.\") prefix in the authorization identifier value. The returned "
    "authorization MUST include the optional \"wildcard\" field, with a value of true.",
    tags=["account", "policy"],
)
def wildcard_authorization(ctx: CheckContext) -> None:
    account = ctx.new_account()
    base = ctx.new_domain("wild")
    response = _new_order(ctx, account, {"identifiers": [{"type": "dns", "value": "*." + base}]}, "newOrder *.name")
    if 400 <= response.status_code < 500:
        raise Skipped(f"the server does not issue wildcard certificates here (HTTP {response.status_code} "
                      f"{short_type(response)})")
    expect_status(response, {201}, "newOrder for a wildcard name")
    order = Order(url=response.headers.get("Location", ""), body=expect_json_object(response, "newOrder"),
                  account=account)
    for url, authz in ctx.session.authorizations(order):
        value = authz.get("identifier", {}).get("value") if isinstance(authz.get("identifier"), dict) else None
        if value != base:
            raise fail("the wildcard authorization's identifier is not the base domain", expected=repr(base),
                       actual=f"{url}: {value!r}")
        if authz.get("wildcard") is not True:
            raise fail("the wildcard authorization lacks wildcard: true", expected='"wildcard": true',
                       actual=repr(authz.get("wildcard", "(absent)")))


@check(
    "order.non-wildcard-authorization",
    title="A non-wildcard identifier's authorization has no wildcard member",
    section="RFC 8555 §7.1.4",
    level="MUST",
    requirements=["ORD-8"],
    sentence="wildcard (optional, boolean): This field MUST be present and true for authorizations created as a "
    "result of a newOrder request containing a DNS identifier with a value that was a wildcard domain name. "
    "For other authorizations, it MUST be absent.",
    tags=["account"],
)
def non_wildcard_authorization(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    for url, authz in ctx.session.authorizations(order):
        if "wildcard" in authz:
            raise fail("a non-wildcard authorization carries a wildcard member", expected="no wildcard member",
                       actual=f"{url}: wildcard={authz['wildcard']!r}")


# -- rejected identifiers -------------------------------------------------------------------------

_UNKNOWN_TYPE = {"identifiers": [{"type": "acme-conformance-unknown", "value": "x"}]}


@check(
    "order.unsupported-identifier-type-rejected",
    title="newOrder with an unknown identifier type is refused",
    section="RFC 8555 §7.4",
    level="MUST",
    requirements=["ORD-9"],
    sentence="The server MUST return an error if it cannot fulfill the request as specified",
    tags=["account"],
)
def unsupported_type_rejected(ctx: CheckContext) -> None:
    response = _new_order(ctx, ctx.new_account(), _UNKNOWN_TYPE, "newOrder with an unknown identifier type")
    expect_rejected(response, "newOrder with an unknown identifier type")
    ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")


@check(
    "order.unsupported-identifier-type-problem",
    title="An unknown identifier type is reported as unsupportedIdentifier",
    section="RFC 8555 §6.7",
    level="descr.",
    requirements=["ORD-9"],
    sentence="unsupportedIdentifier: An identifier is of an unsupported type",
    tags=["account"],
)
def unsupported_type_problem(ctx: CheckContext) -> None:
    response = _new_order(ctx, ctx.new_account(), _UNKNOWN_TYPE, "newOrder with an unknown identifier type")
    expect_rejected(response, "newOrder with an unknown identifier type")
    if short_type(response) != "unsupportedIdentifier":
        raise fail("an unknown identifier type is not reported as unsupportedIdentifier",
                   expected="problem type urn:ietf:params:acme:error:unsupportedIdentifier",
                   actual=f"HTTP {response.status_code} {short_type(response)}")


def _malformed_names(domain: str) -> dict[str, tuple[str, str]]:
    """variant -> (name, why it is not a valid DNS name for a certificate)."""
    long_name = ".".join(["a" * 63] * 4)[: 254 - len(domain) - 1].rstrip(".") + "." + domain
    return {
        "illegal-character": (f"bad name.{domain}", "a space is not allowed in a host name (RFC 1123 §2.1)"),
        "leading-hyphen": (f"-bad.{domain}", "a label must not start with a hyphen (RFC 5890 §2.3.1, RFC 1123 LDH)"),
        "empty-label": (f"a..{domain}", "a name cannot contain an empty label (RFC 1035 §3.1)"),
        "long-label": ("a" * 64 + "." + domain, "labels are at most 63 octets (RFC 1035 §2.3.4)"),
        "long-name": (long_name, "names are at most 253 characters (RFC 1035 §2.3.4: 255 octets on the wire)"),
    }


def _register_malformed(variant: str) -> None:
    @check(
        f"order.malformed-name.{variant}",
        title=f"newOrder with a syntactically invalid DNS name ({variant}) is refused",
        section="RFC 8555 §10.5",
        level="descr.",
        requirements=["ORD-10"],
        sentence="Before issuing a certificate, however, there are many other checks that a CA might need to "
        "perform, for example: ... Is the claimed identifier syntactically valid? ... CAs that use ACME to "
        "automate issuance will need to ensure that their servers perform all necessary checks before issuing.",
        tags=["account"],
    )
    def malformed(ctx: CheckContext) -> None:
        name, why = _malformed_names(ctx.new_domain())[variant]
        response = _new_order(ctx, ctx.new_account(), {"identifiers": [{"type": "dns", "value": name}]},
                              f"newOrder for {name!r}")
        if not 400 <= response.status_code < 500:
            raise fail(f"an order for an invalid DNS name was accepted: {why}",
                       expected="a 4xx error (malformed or rejectedIdentifier)",
                       actual=f"HTTP {response.status_code} for {name!r}")
        ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")

    malformed.__name__ = f"malformed_{variant.replace('-', '_')}"


for _variant in ("illegal-character", "leading-hyphen", "empty-label", "long-label", "long-name"):
    _register_malformed(_variant)


@check(
    "order.invalid-punycode-rejected",
    title="newOrder with an 'xn--' label that is not valid Punycode is refused",
    section="RFC 8555 §7.1.4",
    level="MUST",
    requirements=["ORD-11"],
    sentence="Servers MUST verify any identifier values that begin with the ASCII-Compatible Encoding prefix "
    "\"xn--\" as defined in [RFC5890] are properly encoded.",
    tags=["account"],
)
def invalid_punycode(ctx: CheckContext) -> None:
    # "zz" is not decodable Punycode at all (RFC 3492 decoding overflows the code point range).
    name = f"xn--zz.{ctx.new_domain()}"
    response = _new_order(ctx, ctx.new_account(), {"identifiers": [{"type": "dns", "value": name}]},
                          f"newOrder for {name!r}")
    if not 400 <= response.status_code < 500:
        raise fail("an order for a name with an invalid A-label was accepted",
                   expected="a 4xx error (malformed or rejectedIdentifier)", actual=f"HTTP {response.status_code}")
    ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")


_BAD_IDENTIFIER_PAYLOADS: dict[str, dict[str, Any]] = {
    "empty": {"identifiers": []},
    "missing": {},
    "not-array": {"identifiers": "example.com"},
}


def _register_bad_identifiers(variant: str) -> None:
    @check(
        f"order.identifiers-{variant}-rejected",
        title=f"newOrder whose identifiers member is {variant.replace('-', ' ')} is refused",
        section="RFC 8555 §7.4",
        level="descr.",
        requirements=["ORD-12"],
        sentence="identifiers (required, array of object): An array of identifier objects that the client "
        "wishes to submit an order for.",
        tags=["account"],
    )
    def bad_identifiers(ctx: CheckContext) -> None:
        response = _new_order(ctx, ctx.new_account(), _BAD_IDENTIFIER_PAYLOADS[variant],
                              f"newOrder with identifiers {variant}")
        expect_rejected(response, f"newOrder with identifiers {variant}")
        ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")

    bad_identifiers.__name__ = f"identifiers_{variant.replace('-', '_')}"


for _variant in _BAD_IDENTIFIER_PAYLOADS:
    _register_bad_identifiers(_variant)


# -- requested validity --------------------------------------------------------------------------


def _stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@check(
    "order.validity-honoured-or-refused",
    title="notBefore/notAfter are either refused or reflected exactly in the certificate",
    section="RFC 8555 §7.4",
    level="MUST",
    requirements=["ORD-13"],
    sentence="The server MUST return an error if it cannot fulfill the request as specified, and it MUST NOT "
    "issue a certificate with contents other than those requested.",
    tags=["account", "validation", "issuance"],
)
def validity_honoured(ctx: CheckContext) -> None:
    ctx.require_challenge_type("http-01")
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    not_before, not_after = now + datetime.timedelta(hours=1), now + datetime.timedelta(days=7)
    account = ctx.new_account()
    identifiers = ctx.new_identifiers()
    payload = {"identifiers": [{"type": i.type, "value": i.value} for i in identifiers],
               "notBefore": _stamp(not_before), "notAfter": _stamp(not_after)}
    response = _new_order(ctx, account, payload, "newOrder with notBefore/notAfter")
    if 400 <= response.status_code < 500:
        ctx.note(f"the server refuses requested validity (HTTP {response.status_code} {short_type(response)}): "
                 "allowed")
        return
    expect_status(response, {201}, "newOrder with notBefore/notAfter")
    order = Order(url=response.headers.get("Location", ""), body=expect_json_object(response, "newOrder"),
                  account=account)
    ctx.session.validate_order(order, "http-01", ctx.backend)
    order.body = ctx.session.poll(order.url, account, lambda b: b.get("status") != "pending", "order")
    csr_der, _ = make_csr([i.value for i in identifiers])
    with noting("finalize"):
        finalized = ctx.session.finalize_request(order, csr_der)
    if 400 <= finalized.status_code < 500:
        ctx.note(f"finalize refused the requested validity (HTTP {finalized.status_code}): an error, allowed")
        return
    final = settle(ctx, order)
    if final.get("status") != "valid" or not isinstance(final.get("certificate"), str):
        if final.get("status") == "invalid":
            ctx.note("the order became invalid: an error, allowed")
            return
        raise CouldNotTest(f"the order became {final.get('status')!r} instead of valid")
    chain = load_chain(download(ctx, str(final["certificate"]), account).content)
    if not chain:
        raise CouldNotTest("the certificate could not be downloaded or parsed")
    leaf = chain[0]
    got = (leaf.not_valid_before_utc, leaf.not_valid_after_utc)
    if got != (not_before, not_after):
        raise fail("the server accepted notBefore/notAfter but issued a certificate with another validity",
                   expected=f"{_stamp(not_before)} .. {_stamp(not_after)}",
                   actual=f"{_stamp(got[0])} .. {_stamp(got[1])}")


@check(
    "order.malformed-validity-rejected",
    title="newOrder with a notBefore that is not an RFC 3339 timestamp is refused",
    section="RFC 8555 §7.4",
    level="descr.",
    requirements=["ORD-13"],
    sentence="notBefore (optional, string): The requested value of the notBefore field in the certificate, in "
    "the date format defined in [RFC3339]. ... The server MUST return an error if it cannot fulfill the "
    "request as specified",
    tags=["account"],
)
def malformed_validity(ctx: CheckContext) -> None:
    payload = {"identifiers": [{"type": "dns", "value": ctx.new_domain()}], "notBefore": "not-a-timestamp"}
    response = _new_order(ctx, ctx.new_account(), payload, "newOrder with notBefore 'not-a-timestamp'")
    if not 400 <= response.status_code < 500:
        echoed = json_or_none(response)
        echoed = echoed.get("notBefore") if isinstance(echoed, dict) else None
        raise fail("an order with an unparseable notBefore was accepted", expected="a 4xx error (malformed)",
                   actual=f"HTTP {response.status_code}, order notBefore {echoed!r}")


# -- the certificate's names -------------------------------------------------------------------


@check(
    "order.certificate-names-are-order-identifiers",
    title="A certificate for a three-name order certifies exactly those three names",
    section="RFC 8555 §7.4",
    level="MUST NOT",
    requirements=["ORD-14"],
    sentence="it MUST NOT issue a certificate with contents other than those requested.",
    tags=["account", "validation", "issuance"],
)
def certificate_has_order_names(ctx: CheckContext) -> None:
    identifiers = ctx.new_identifiers(3)
    issuance = ctx.issue("http-01", identifiers=identifiers)
    wanted = {i.value.lower() for i in identifiers}
    got = certificate_names(issuance.leaf)
    if got != wanted:
        raise fail("the certificate's names are not the order's identifiers", expected=", ".join(sorted(wanted)),
                   actual=", ".join(sorted(got)) or "(none)")


@check(
    "order.error-is-problem-document",
    title="An invalid order's error member is a problem document",
    section="RFC 8555 §7.1.3",
    level="descr.",
    requirements=["ORD-16"],
    sentence="error (optional, object): The error that occurred while processing the order, if any. This field "
    "is structured as a problem document [RFC7807].",
    tags=["account", "validation"],
)
def error_is_problem(ctx: CheckContext) -> None:
    order = invalid_order(ctx)
    if "error" not in order.body:
        raise Skipped("the invalid order carries no error member (it is optional)")
    error = order.body["error"]
    if not isinstance(error, dict) or not isinstance(error.get("type"), str):
        raise fail("the order's error is not a problem document", expected="an object with a string type",
                   actual=repr(error)[:200])
    if "status" in error and not isinstance(error["status"], int):
        raise fail("the order's error has a non-integer status", expected="status: an HTTP status code number",
                   actual=repr(error["status"]))


@check(
    "order.reused-authorization-listed",
    title="An order born ready lists the valid authorizations it relies on",
    section="RFC 8555 §7.1.3",
    level="SHOULD",
    requirements=["ORD-18"],
    sentence="authorizations ... For pending orders, the authorizations that the client needs to complete ... "
    "including unexpired authorizations that the client has completed in the past for identifiers specified "
    "in the order.",
    tags=["account", "validation"],
)
def reused_authorization(ctx: CheckContext) -> None:
    identifiers = ctx.new_identifiers()
    first = ready_order(ctx, identifiers=identifiers)
    second = ctx.session.create_order(first.account, identifiers)
    if second.status != "ready":
        ctx.note(f"the second order is {second.status!r}: the server did not reuse the authorization (allowed)")
        return
    valid_for: set[str] = set()
    for _url, authz in ctx.session.authorizations(second):
        ident = authz.get("identifier")
        if authz.get("status") == "valid" and isinstance(ident, dict):
            valid_for.add(str(ident.get("value")).lower())
    missing = {i.value.lower() for i in identifiers} - valid_for
    if missing:
        raise fail("an order born ready does not list a valid authorization for each identifier",
                   expected="a valid authorization per identifier in the authorizations array",
                   actual="no valid authorization listed for " + ", ".join(sorted(missing)))


# -- the orders list (§7.1.2.1) ------------------------------------------------------------------

_MAX_PAGES = 30


def _orders_url(ctx: CheckContext, account: Account) -> str:
    url = account.body.get("orders")
    if not isinstance(url, str):
        body = ctx.session.fetch_json(account.url, account, "account")
        url = body.get("orders")
    if not isinstance(url, str):
        raise CouldNotTest("the account object has no orders URL (judged by the account checks)")
    return url


def collect_orders(ctx: CheckContext, account: Account) -> tuple[list[str], int]:
    """Every order URL of the account, following rel="next"; judges each page's structure (MUST)."""
    url: str | None = _orders_url(ctx, account)
    urls: list[str] = []
    visited: set[str] = set()
    pages = 0
    while url is not None:
        if url in visited or pages >= _MAX_PAGES:
            raise fail("the orders list's next links loop", expected="a finite chain of rel=\"next\" pages",
                       actual=f"page {pages + 1} is {url}")
        visited.add(url)
        with noting(f"fetch orders list page {pages + 1}"):
            response = ctx.session.post_as_get(url, account)
        pages += 1
        expect_status(response, {200}, f"orders list page {pages}")
        body = json_or_none(response)
        orders = body.get("orders") if isinstance(body, dict) else None
        if not isinstance(orders, list) or not all(isinstance(u, str) for u in orders):
            raise fail(f"orders list page {pages} is not an object with an orders array of URLs",
                       expected='{"orders": ["<order URL>", ...]}', actual=response.content[:200].decode("utf-8", "replace"))
        urls.extend(orders)
        following = link_targets(response, "next")
        url = following[0] if following else None
    return urls, pages


@check(
    "order.list-structure",
    title="The orders list is a JSON object whose orders member is an array of URLs",
    section="RFC 8555 §7.1.2.1",
    level="MUST",
    requirements=["ACCT-4"],
    sentence="The result of the request MUST be a JSON object whose \"orders\" field is an array of URLs, each "
    "identifying an order belonging to the account.",
    tags=["account"],
)
def list_structure(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    urls, _ = collect_orders(ctx, order.account)
    # "each identifying an order belonging to the account": every URL must be fetchable by it.
    for url in urls:
        with noting("fetch a listed order"):
            response = ctx.session.post_as_get(url, order.account)
        if response.status_code != 200 or not isinstance(json_or_none(response), dict):
            raise fail("a URL in the orders list is not an order of the account", expected="HTTP 200 order object",
                       actual=f"{url}: HTTP {response.status_code}")


@check(
    "order.list-includes-pending",
    title="The orders list includes a pending order",
    section="RFC 8555 §7.1.2.1",
    level="SHOULD",
    requirements=["ACCT-4"],
    sentence="The server SHOULD include pending orders and SHOULD NOT include orders that are invalid in the "
    "array of URLs.",
    tags=["account"],
)
def list_includes_pending(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    urls, _ = collect_orders(ctx, order.account)
    if order.url not in urls:
        raise fail("a pending order is missing from the orders list", expected=order.url,
                   actual=", ".join(urls) or "(empty list)")


@check(
    "order.list-excludes-invalid",
    title="The orders list leaves out an invalid order",
    section="RFC 8555 §7.1.2.1",
    level="SHOULD NOT",
    requirements=["ACCT-4"],
    sentence="The server SHOULD include pending orders and SHOULD NOT include orders that are invalid in the "
    "array of URLs.",
    tags=["account", "validation"],
)
def list_excludes_invalid(ctx: CheckContext) -> None:
    order = invalid_order(ctx)
    urls, _ = collect_orders(ctx, order.account)
    if order.url in urls:
        raise fail("an invalid order is listed in the orders list", expected="the invalid order left out",
                   actual=order.url)


@check(
    "order.list-pagination",
    title="Following rel=\"next\" through the orders list finds every pending order exactly once",
    section="RFC 8555 §7.1.2.1",
    level="SHOULD",
    requirements=["LINK-5", "ACCT-4"],
    sentence="The server SHOULD include pending orders ... The server MAY return an incomplete list, along with "
    "a Link header field with a \"next\" link relation indicating where further entries can be acquired.",
    tags=["account"],
)
def list_pagination(ctx: CheckContext) -> None:
    account = ctx.new_account()
    created = [pending_order(ctx, account).url for _ in range(5)]  # more than Pebble's default page of 3
    urls, pages = collect_orders(ctx, account)
    ctx.note(f"{len(urls)} order URL(s) on {pages} page(s)")
    duplicates = sorted({u for u in urls if urls.count(u) > 1})
    if duplicates:
        raise Warned("the orders list names an order twice across its pages", expected="each order once",
                     actual=", ".join(duplicates))
    missing = [u for u in created if u not in urls]
    if missing:
        raise fail(f"{len(missing)} of 5 pending orders are not found across the list's pages",
                   expected="every pending order on some page", actual=", ".join(missing))


not_judged("ORD-15", "needs waiting for a pending order's expires (Pebble: a day after creation); a run cannot wait")
not_judged("ORD-19", "duplicate or mixed-case identifiers and unknown newOrder fields are unspecified by RFC 8555: "
           "there is no wrong answer to judge")
