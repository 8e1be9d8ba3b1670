"""GET and POST-as-GET (RFC 8555 §6.3), and the Allow header of 405 answers (RFC 9110 §15.5.6).

Plain GET is only for the directory and newNonce; every other resource answers 405 malformed.
POST-as-GET (payload "") fetches a resource with GET semantics: authenticated, access
controlled, and free of side effects. Reading the run's shared issuance is safe: nothing here
changes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from cryptography import x509

from conformance.acme import Issuance, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.judge import expect_problem, expect_status, fail, media_type
from conformance.model import Skipped
from conformance.recorder import noting
from conformance.registry import check, not_judged

_GET_405 = (
    "Except for the cases described in this section, if the server receives a GET request, it MUST return an "
    'error with status code 405 (Method Not Allowed) and type "malformed".'
)
_SAME_AS_GET = (
    "On receiving a request with a zero-length (and thus non-JSON) payload, the server MUST authenticate the "
    "sender and verify any access control rules. Otherwise, the server MUST treat this request as having the same "
    "semantics as a GET request for the same resource."
)


def _challenge_url(issuance: Issuance) -> str:
    for challenge in issuance.authorizations[0].get("challenges", []):
        if isinstance(challenge, dict) and isinstance(challenge.get("url"), str):
            return str(challenge["url"])
    raise Skipped("the shared authorization lists no challenge URL")


def _orders_url(issuance: Issuance) -> str:
    orders = issuance.account.body.get("orders")
    if not isinstance(orders, str):
        raise Skipped("the account object has no orders URL")
    return orders


# resource name -> how to find its URL in the shared issuance
_ISSUED: dict[str, Callable[[Issuance], str]] = {
    "account": lambda i: i.account.url,
    "orders-list": _orders_url,
    "order": lambda i: i.order.url,
    "authorization": lambda i: i.authorization_urls[0],
    "challenge": _challenge_url,
    "certificate": lambda i: i.certificate_url,
    "finalize": lambda i: str(i.order.body["finalize"]),
}
_DIRECTORY = {"new-account": "newAccount", "new-order": "newOrder", "revoke-cert": "revokeCert",
              "key-change": "keyChange"}


def _judge_get_405(ctx: CheckContext, name: str, url: str) -> None:
    with noting(f"plain GET of the {name} URL"):
        response = ctx.session.get(url)
    expect_problem(response, ["malformed"], f"GET on the {name} URL", statuses={405})


def _register_get_check(name: str, url_of: Callable[[CheckContext], str], tags: list[str]) -> None:
    @check(
        f"post-as-get.get-{name}-405",
        title=f"A plain GET of the {name} URL is answered 405 malformed",
        section="RFC 8555 §6.3",
        level="MUST",
        requirements=["PAG-1"],
        sentence=_GET_405,
        tags=tags,
    )
    def get_is_405(ctx: CheckContext) -> None:
        _judge_get_405(ctx, name, url_of(ctx))


def _issued_url(name: str) -> Callable[[CheckContext], str]:
    return lambda ctx: _ISSUED[name](ctx.shared_issuance("http-01"))


def _directory_url(resource: str) -> Callable[[CheckContext], str]:
    return lambda ctx: ctx.require_resource(resource)


for _name in _ISSUED:
    _register_get_check(_name, _issued_url(_name), ["account", "validation", "issuance"])
for _name, _resource in _DIRECTORY.items():
    _register_get_check(_name, _directory_url(_resource), ["basic"])


@check(
    "post-as-get.405-has-allow-header",
    title="405 (Method Not Allowed) answers carry an Allow header",
    section="RFC 9110 §15.5.6",
    level="MUST",
    requirements=["HTTP-1"],
    sentence="The origin server MUST generate an Allow header field in a 405 response containing a list of the "
    "target resource's currently supported methods.",
    tags=["basic"],
)
def allow_on_405(ctx: CheckContext) -> None:
    judged = 0
    for resource in ("newOrder", "newAccount", "revokeCert"):
        url = ctx.directory.get(resource)
        if not isinstance(url, str):
            continue
        with noting(f"plain GET of {resource}"):
            response = ctx.session.get(url)
        if response.status_code != 405:
            continue
        judged += 1
        if not response.headers.get("Allow"):
            raise fail(f"the 405 answer to GET {resource} has no Allow header",
                       expected="Allow: <the supported methods, e.g. POST>", actual=describe_response(response))
    if not judged:
        raise Skipped("the server answered no request with 405, so there is no Allow header to judge")


# -- POST-as-GET returns the resource (PAG-2) --------------------------------------------------------


def _json_with(*members: str) -> Callable[[httpx.Response], str | None]:
    def judge(response: httpx.Response) -> str | None:
        body = json_or_none(response)
        if not isinstance(body, dict):
            return "the body is not a JSON object"
        missing = [m for m in members if m not in body]
        return f"the object lacks {', '.join(missing)}" if missing else None

    return judge


def _orders_list(response: httpx.Response) -> str | None:
    body = json_or_none(response)
    if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
        return 'the body is not {"orders": [...]}'
    return None


def _pem_chain(response: httpx.Response) -> str | None:
    try:
        x509.load_pem_x509_certificates(response.content)
    except ValueError as exc:
        return f"the body is not a PEM certificate chain ({exc})"
    return None


_REPRESENTATION: dict[str, Callable[[httpx.Response], str | None]] = {
    "account": _json_with("status"),
    "orders-list": _orders_list,
    "order": _json_with("status", "identifiers", "authorizations", "finalize"),
    "authorization": _json_with("status", "identifier", "challenges"),
    "challenge": _json_with("type", "url", "status"),
    "certificate": _pem_chain,
}


def _register_fetch_check(name: str) -> None:
    @check(
        f"post-as-get.{name}-returns-resource",
        title=f"POST-as-GET of the {name} URL returns 200 with the {name}",
        section="RFC 8555 §6.3",
        level="MUST",
        requirements=["PAG-2"],
        sentence=_SAME_AS_GET,
        tags=["account", "validation", "issuance"],
    )
    def fetch(ctx: CheckContext) -> None:
        issuance = ctx.shared_issuance("http-01")
        url = _ISSUED[name](issuance)
        with noting(f"POST-as-GET of the {name}"):
            response = ctx.session.post_as_get(url, issuance.account)
        expect_status(response, {200}, f"POST-as-GET of the {name}")
        problem = _REPRESENTATION[name](response)
        if problem:
            raise fail(f"POST-as-GET of the {name}: {problem}", expected=f"the {name} representation",
                       actual=f"Content-Type {media_type(response)}, {len(response.content)} bytes")


for _name in _REPRESENTATION:
    _register_fetch_check(_name)


# -- access control, side effects (PAG-3, PAG-4, PAG-5) ------------------------------------------------


@check(
    "post-as-get.other-account-refused",
    title="POST-as-GET of another account's order, authorization, challenge, account and orders list is refused",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["PAG-3"],
    sentence=_SAME_AS_GET,
    tags=["two-accounts", "validation", "issuance"],
)
def other_account_refused(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    owner = issuance.account
    stranger = ctx.new_account()
    leaks = []
    for name in ("order", "authorization", "challenge", "account", "orders-list"):
        url = _ISSUED[name](issuance)
        with noting(f"POST-as-GET of the other account's {name}, signed by a second account"):
            response = ctx.session.post_as_get(url, stranger)
        if 400 <= response.status_code < 500:
            ctx.note(f"{name}: refused with {describe_response(response)}")
            continue
        if 200 <= response.status_code < 300 and name == "account" and not _is_owner_account(response, owner.key):
            # The server answered with the requester's own account: no data of the owner leaked.
            ctx.note("account URL of another account: the server answered with the requester's own account")
            continue
        if 200 <= response.status_code < 300 and name == "orders-list" and not _lists_owner_orders(response, issuance):
            ctx.note("orders list of another account: answered without the owner's orders")
            continue
        leaks.append(f"{name} -> {describe_response(response)}")
    certificate = ctx.session.post_as_get(issuance.certificate_url, stranger)
    ctx.note(f"certificate fetched by another account: {describe_response(certificate)} "
             "(certificates may be public by policy; not judged)")
    if leaks:
        raise fail("another account's resources were served to a second account",
                   expected="a 4xx refusal for each", actual="; ".join(leaks))


def _is_owner_account(response: httpx.Response, owner_key: Any) -> bool:
    body = json_or_none(response)
    return not isinstance(body, dict) or body.get("key") == owner_key.public_jwk()


def _lists_owner_orders(response: httpx.Response, issuance: Issuance) -> bool:
    body = json_or_none(response)
    return not isinstance(body, dict) or issuance.order.url in (body.get("orders") or [])


@check(
    "post-as-get.challenge-fetch-starts-no-validation",
    title="POST-as-GET of a pending challenge does not start its validation",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["PAG-4"],
    sentence=_SAME_AS_GET + " (§7.5.1: the client responds to a challenge by POSTing the JSON object {}.)",
    tags=["account", "validation"],
)
def challenge_fetch_no_validation(ctx: CheckContext) -> None:
    ctx.require_challenge_type("http-01")
    account = ctx.new_account()
    order = ctx.session.create_order(account, ctx.new_identifiers(2, "pag"))
    (fetched_url, fetched), (control_url, control) = ctx.session.authorizations(order)
    challenge = _http01(fetched)
    if fetched.get("status") != "pending" or challenge.get("status") != "pending":
        raise Skipped("the new order's authorization is not pending (reused?), so there is nothing to observe")
    with noting("POST-as-GET of the pending http-01 challenge"):
        first = ctx.session.post_as_get(str(challenge["url"]), account)
    expect_status(first, {200}, "POST-as-GET of the challenge")
    _expect_pending(json_or_none(first), "the POST-as-GET answer")
    # Control: validate the order's other authorization. A server that started validating the fetched
    # challenge has had at least as long to finish it as this real validation takes.
    ctx.session.respond_to_challenge(account, control, "http-01", ctx.backend)
    ctx.session.poll(control_url, account, lambda b: b.get("status") != "pending", "control authorization")
    with noting("POST-as-GET of the fetched challenge and its authorization again"):
        challenge_now = ctx.session.fetch_json(str(challenge["url"]), account, "challenge")
        authz_now = ctx.session.fetch_json(fetched_url, account, "authorization")
    _expect_pending(challenge_now, "the challenge afterwards")
    _expect_pending(authz_now, "the authorization afterwards")
    http = getattr(ctx.backend, "http", None)
    if http is not None and hasattr(http, "requests"):
        token = str(challenge.get("token", ""))
        probes = [r for r in http.requests() if token and token in getattr(r, "path", "")]
        if probes:
            raise fail("the server sent validation requests for a challenge that was only fetched",
                       expected="no validation traffic", actual=f"{len(probes)} request(s) for the token")


def _http01(authz: dict[str, Any]) -> dict[str, Any]:
    for challenge in authz.get("challenges") or []:
        if isinstance(challenge, dict) and challenge.get("type") == "http-01":
            return challenge
    raise Skipped("the authorization offers no http-01 challenge")


def _expect_pending(body: Any, what: str) -> None:
    status = body.get("status") if isinstance(body, dict) else None
    if status != "pending":
        raise fail(f"{what} is no longer pending after a POST-as-GET", expected='status "pending"',
                   actual=f"status {status!r}")


@check(
    "post-as-get.account-fetch-no-side-effects",
    title="POST-as-GET of the account returns it and changes nothing (still valid and usable)",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["PAG-5"],
    sentence=_SAME_AS_GET,
    tags=["account"],
)
def account_fetch_no_side_effects(ctx: CheckContext) -> None:
    account = ctx.new_account()
    for attempt in ("first", "second"):
        with noting(f"{attempt} POST-as-GET of the account"):
            response = ctx.session.post_as_get(account.url, account)
        expect_status(response, {200}, f"{attempt} POST-as-GET of the account")
        body = json_or_none(response)
        status = body.get("status") if isinstance(body, dict) else None
        if status != "valid":
            raise fail(f"the account is {status!r} after a POST-as-GET", expected='status "valid"',
                       actual=describe_response(response))
    with noting("newOrder after the fetches (the account must still work)"):
        order = ctx.session.new_order_request(account, ctx.new_identifiers())
    expect_status(order, {201}, "newOrder after POST-as-GET of the account")


not_judged("PAG-6", 'a POST of "{}" to an order or authorization is not defined by the RFC (information only); '
           "for the account it is an empty update (UPD-6) and for a challenge a response (CH-3)")
