"""Link relations, Location, Retry-After and media types (RFC 8555 §7.1, §7.3, §7.4, §7.4.2, §7.5.1,
§8.2, §9.1; RFC 9110 §10.2.3).
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conformance.acme import (
    PEM_CHAIN,
    Account,
    CouldNotTest,
    SetupFailed,
    describe_response,
    find_challenge,
    json_or_none,
    link_targets,
    provision_challenge,
)
from conformance.context import CheckContext
from conformance.csr import make_csr
from conformance.judge import expect_header, expect_json_object, expect_status, fail, media_type
from conformance.jws import b64url, sign_request
from conformance.model import Skipped, Warned
from conformance.recorder import describing_jws, noting
from conformance.registry import check, not_judged
from conformance.responders.base import Identifier, key_authorization

JSON = "application/json"


def post_as_get_without_accept(ctx: CheckContext, url: str, account: Account) -> httpx.Response:
    """POST-as-GET with no Accept header at all (httpx adds "*/*" by default, so remove it by hand)."""
    signed = sign_request(account.key, url, ctx.session.new_nonce(), None, kid=account.url)
    request = ctx.session.client.build_request(
        "POST", url, content=signed.body, headers={"Content-Type": signed.content_type or ""})
    del request.headers["Accept"]
    try:
        with describing_jws(signed.protected, signed.payload):
            return ctx.session.client.send(request)
    except httpx.HTTPError as exc:
        raise CouldNotTest(f"POST {url} failed: {type(exc).__name__}: {exc}") from exc


def _pending_order(ctx: CheckContext) -> tuple[Account, Any, str, dict[str, Any]]:
    account = ctx.new_account()
    order = ctx.session.create_order(account, ctx.new_identifiers())
    authz_url, authz = ctx.session.authorizations(order)[0]
    return account, order, authz_url, authz


# -- Link ------------------------------------------------------------------------------------


@check(
    "headers.link-index",
    title='Every ACME resource but the directory sends Link: <directory>;rel="index", errors included',
    section="RFC 8555 §7.1",
    level="descr.",
    requirements=["LINK-1"],
    sentence='The "index" link relation is present on all resources other than the directory and indicates the URL '
    "of the directory.",
    tags=["account", "issuance", "validation"],
)
def link_index(ctx: CheckContext) -> None:
    session = ctx.session
    directory_url = ctx.run.target.directory_url
    seen: list[tuple[str, httpx.Response]] = []

    def add(what: str, response: httpx.Response) -> None:
        seen.append((what, response))

    with noting("HEAD newNonce"):
        add("HEAD newNonce", session.head(session.url_for("newNonce")))
    with noting("GET newNonce"):
        add("GET newNonce", session.get(session.url_for("newNonce")))
    key = ctx.new_key()
    with noting("newAccount"):
        created = session.new_account_request(key, eab=ctx.run.account_binding())
    add("newAccount", created)
    location = created.headers.get("Location")
    body = json_or_none(created)
    if created.status_code not in (200, 201) or not location or not isinstance(body, dict):
        raise SetupFailed(f"newAccount failed ({describe_response(created)})")
    account = Account(key=key, url=location, body=body)
    with noting("newAccount onlyReturnExisting with an unknown key (an error)"):
        add("a newAccount error", session.new_account_request(ctx.new_key(), only_return_existing=True))
    with noting("POST-as-GET the account"):
        add("the account", session.post_as_get(account.url, account))
    if isinstance(body.get("orders"), str):
        with noting("POST-as-GET the orders list"):
            add("the orders list", session.post_as_get(str(body["orders"]), account))
    identifiers = ctx.new_identifiers()
    with noting("newOrder"):
        new_order = session.new_order_request(account, identifiers)
    add("newOrder", new_order)
    order_body = json_or_none(new_order)
    order_url = new_order.headers.get("Location")
    if new_order.status_code != 201 or not order_url or not isinstance(order_body, dict):
        raise SetupFailed(f"newOrder failed ({describe_response(new_order)})")
    with noting("POST-as-GET the order"):
        add("the order", session.post_as_get(order_url, account))
    authz_urls = order_body.get("authorizations")
    if isinstance(authz_urls, list) and authz_urls:
        with noting("POST-as-GET the authorization"):
            authz_response = session.post_as_get(str(authz_urls[0]), account)
        add("the authorization", authz_response)
        authz = json_or_none(authz_response)
        challenges = authz.get("challenges") if isinstance(authz, dict) else None
        if isinstance(challenges, list) and challenges and isinstance(challenges[0], dict):
            with noting("POST-as-GET a challenge"):
                add("a challenge", session.post_as_get(str(challenges[0].get("url")), account))
    if isinstance(order_body.get("finalize"), str):
        csr_der, _ = make_csr([i.value for i in identifiers])
        with noting("finalize the pending order (an orderNotReady error)"):
            add("finalize (error)", session.signed(str(order_body["finalize"]), {"csr": b64url(csr_der)}, account))
    if isinstance(ctx.directory.get("revokeCert"), str):
        with noting("revokeCert of garbage (an error)"):
            add("revokeCert (error)", session.signed(session.url_for("revokeCert"),
                                                     {"certificate": b64url(b"not a certificate")}, account))
    if isinstance(ctx.directory.get("keyChange"), str):
        with noting("keyChange with a non-JWS payload (an error)"):
            add("keyChange (error)", session.signed(session.url_for("keyChange"), {}, account))
    issuance = ctx.shared_issuance()
    with noting("POST-as-GET the certificate"):
        add("the certificate", session.post_as_get(issuance.certificate_url, issuance.account))
    missing = [f"{what} (HTTP {response.status_code}: {link_targets(response, 'index') or 'none'})"
               for what, response in seen if directory_url not in link_targets(response, "index")]
    if missing:
        raise fail('responses without Link rel="index" to the directory', expected=f"<{directory_url}>;rel=\"index\"",
                   actual="; ".join(missing))


@check(
    "headers.challenge-link-up",
    title='Challenge responses carry Link rel="up" to their authorization',
    section="RFC 8555 §7.1",
    level="descr.",
    requirements=["LINK-2"],
    sentence='The "up" link relation is used with challenge resources to indicate the authorization resource to '
    "which a challenge belongs.",
    tags=["account", "validation"],
)
def challenge_link_up(ctx: CheckContext) -> None:
    ctx.require_challenge_type("http-01")
    account, _, authz_url, authz = _pending_order(ctx)
    challenge = find_challenge(authz, "http-01")
    url = str(challenge.get("url"))
    with noting("POST-as-GET the challenge"):
        fetched = ctx.session.post_as_get(url, account)
    token = str(challenge.get("token", ""))
    identifier = Identifier(str(authz["identifier"]["type"]), str(authz["identifier"]["value"]))
    provision_challenge(ctx.backend, "http-01", identifier, token, key_authorization(token, account.key.thumbprint()))
    with noting("POST {} to the challenge"):
        answered = ctx.session.signed(url, {}, account)
    wrong = [f"{what}: {link_targets(response, 'up') or 'no up link'}"
             for what, response in (("POST-as-GET", fetched), ("POST {}", answered))
             if response.status_code == 200 and authz_url not in link_targets(response, "up")]
    if fetched.status_code != 200 or answered.status_code != 200:
        raise SetupFailed(f"the challenge requests failed ({describe_response(fetched)}; {describe_response(answered)})")
    if wrong:
        raise fail('challenge responses lack Link rel="up" to the authorization',
                   expected=f'<{authz_url}>;rel="up"', actual="; ".join(wrong))


def _chain_leaf(content: bytes) -> bytes | None:
    try:
        return x509.load_pem_x509_certificates(content)[0].public_bytes(serialization.Encoding.DER)
    except (ValueError, IndexError):
        return None


@check(
    "headers.alternate-chains-same-leaf",
    title='Each Link rel="alternate" of a certificate is a chain starting with the same end-entity certificate',
    section="RFC 8555 §7.4.2",
    level="SHOULD",
    requirements=["LINK-3"],
    sentence='The server MAY provide one or more link relation header fields [RFC5988] with relation "alternate". '
    "Each such field SHOULD express an alternative certificate chain starting with the same end-entity certificate.",
    tags=["account", "issuance", "validation"],
)
def alternate_chains(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance()
    with noting("POST-as-GET the certificate"):
        response = ctx.session.post_as_get(issuance.certificate_url, issuance.account, headers={"Accept": PEM_CHAIN})
    expect_status(response, {200}, "the certificate download")
    alternates = link_targets(response, "alternate")
    if not alternates:
        raise Skipped('the certificate has no Link rel="alternate" (alternate chains are optional)')
    for url in alternates[:5]:
        with noting("POST-as-GET an alternate chain"):
            other = ctx.session.post_as_get(url, issuance.account, headers={"Accept": PEM_CHAIN})
        if other.status_code != 200 or _chain_leaf(other.content) != issuance.leaf_der:
            raise fail("an alternate chain does not start with the same end-entity certificate",
                       expected="the default chain's first certificate",
                       actual=f"{url}: {describe_response(other)}, first certificate "
                       + ("differs" if _chain_leaf(other.content) else "unparseable"))


@check(
    "headers.single-certificate-link-up",
    title='A single-certificate format (application/pkix-cert) comes with Link rel="up" to the issuer',
    section="RFC 8555 §7.4.2",
    level="SHOULD",
    requirements=["LINK-4"],
    sentence='For formats that can only express a single certificate, the server SHOULD provide one or more '
    '"Link: rel="up"" header fields pointing to an issuer or issuers so that ACME clients can build a certificate '
    "chain as defined in TLS (see Section 4.4.2 of [RFC8446]).",
    tags=["account", "issuance", "validation"],
)
def single_certificate_link_up(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance()
    with noting("POST-as-GET the certificate with Accept: application/pkix-cert"):
        response = ctx.session.post_as_get(issuance.certificate_url, issuance.account,
                                           headers={"Accept": "application/pkix-cert"})
    if response.status_code != 200 or media_type(response) != "application/pkix-cert":
        raise Skipped(f"application/pkix-cert is not offered (answer: {describe_response(response)}, "
                      f"{response.headers.get('Content-Type')})")
    if not link_targets(response, "up"):
        raise fail('the DER certificate comes without Link rel="up"', expected='Link: <issuer>;rel="up"',
                   actual="no up link")


@check(
    "headers.orders-pagination",
    title='The orders list pages through Link rel="next" without losing or repeating orders',
    section="RFC 8555 §7.1.2.1",
    level="MAY",
    requirements=["LINK-5"],
    sentence='The server MAY return an incomplete list, along with a Link header field with a "next" link relation '
    "indicating where further entries can be acquired.",
    tags=["account"],
)
def orders_pagination(ctx: CheckContext) -> None:
    account = ctx.new_account()
    orders_url = account.body.get("orders")
    if not isinstance(orders_url, str):
        raise SetupFailed("the account has no orders URL")
    created = {ctx.session.create_order(account, ctx.new_identifiers()).url for _ in range(4)}
    listed: list[str] = []
    pages = 0
    page: str | None = orders_url
    visited: set[str] = set()
    while page is not None:
        if page in visited or pages >= 20:
            raise fail("the next links loop", expected="a finite chain of pages", actual=f"{page} seen again")
        visited.add(page)
        pages += 1
        with noting(f"POST-as-GET orders page {pages}"):
            response = ctx.session.post_as_get(page, account)
        expect_status(response, {200}, f"orders page {pages}")
        body = expect_json_object(response, f"orders page {pages}")
        items = body.get("orders")
        if not isinstance(items, list):
            raise fail(f"orders page {pages} has no orders array", expected='{"orders": [...]}', actual=str(body)[:200])
        listed.extend(str(item) for item in items)
        nexts = link_targets(response, "next")
        page = nexts[0] if nexts else None
    duplicates = sorted({url for url in listed if listed.count(url) > 1})
    if duplicates:
        raise fail("orders appear on more than one page", expected="each order once", actual=", ".join(duplicates))
    lost = sorted(created - set(listed))
    if lost:
        raise fail("pending orders are missing from the paged list", expected="every pending order",
                   actual="missing: " + ", ".join(lost))
    ctx.note(f"{len(listed)} orders over {pages} page(s)")


# -- Location --------------------------------------------------------------------------------


@check(
    "headers.new-order-location",
    title="newOrder answers 201 with a Location that serves the same order",
    section="RFC 8555 §7.4",
    level="descr.",
    requirements=["LOC-3"],
    sentence="If the server is willing to issue the requested certificate, it responds with a 201 (Created) "
    "response. The body of this response is an order object reflecting the client's request ... (example: "
    "'HTTP/1.1 201 Created ... Location: https://example.com/acme/order/TOlocE8rfgo')",
    tags=["account"],
)
def new_order_location(ctx: CheckContext) -> None:
    account = ctx.new_account()
    identifiers = ctx.new_identifiers(2)
    with noting("newOrder"):
        response = ctx.session.new_order_request(account, identifiers)
    expect_status(response, {201}, "newOrder")
    location = expect_header(response, "Location", "newOrder")
    created = expect_json_object(response, "newOrder")
    with noting("POST-as-GET the order's Location"):
        fetched = ctx.session.post_as_get(location, account)
    expect_status(fetched, {200}, "POST-as-GET of the new order's Location")
    body = expect_json_object(fetched, "the order at Location")

    def names(value: Any) -> list[str]:
        items = value.get("identifiers") if isinstance(value, dict) else None
        return sorted(f"{i.get('type')}:{i.get('value')}" for i in items if isinstance(i, dict)) \
            if isinstance(items, list) else []

    if names(body) != names(created) or body.get("finalize") != created.get("finalize"):
        raise fail("the Location does not serve the order just created",
                   expected=f"identifiers {names(created)}, finalize {created.get('finalize')}",
                   actual=f"identifiers {names(body)}, finalize {body.get('finalize')}")


# -- Retry-After -----------------------------------------------------------------------------


_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_TIME = r"\d{2}:\d{2}:\d{2}"
# RFC 9110 §5.6.7: IMF-fixdate, and the obsolete rfc850-date and asctime-date recipients must accept.
_HTTP_DATE = re.compile(
    rf"^(?:{_DAY}, \d{{2}} {_MONTH} \d{{4}} {_TIME} GMT"
    rf"|{_LONG_DAY}, \d{{2}}-{_MONTH}-\d{{2}} {_TIME} GMT"
    rf"|{_DAY} {_MONTH} (?: \d|\d{{2}}) {_TIME} \d{{4}})$",
    re.ASCII,
)


def retry_after_problem(value: str) -> str | None:
    """None if ``value`` is delay-seconds or an HTTP-date (RFC 9110 §10.2.3), else what is wrong."""
    text = value.strip()
    if re.fullmatch(r"[0-9]+", text) or _HTTP_DATE.match(text):
        return None
    return f"{value!r} is neither delay-seconds nor an HTTP-date"


def _judge_retry_after(response: httpx.Response, what: str) -> None:
    value = response.headers.get("Retry-After")
    if value is None:
        return
    problem = retry_after_problem(value)
    if problem:
        raise fail(f"{what}: malformed Retry-After", expected="delta-seconds or an HTTP-date", actual=problem)


@check(
    "headers.retry-after-syntax",
    title="Every Retry-After sent during an issuance is delta-seconds or an HTTP-date",
    section="RFC 9110 §10.2.3",
    level="MUST",
    requirements=["RA-4", "RA-3"],
    sentence="Retry-After = HTTP-date / delay-seconds (RFC 9110 §10.2.3); an order in processing: 'Send a POST-as-GET "
    "request after the time given in the Retry-After header field of the response, if any' (RFC 8555 §7.1.6).",
    tags=["account", "validation", "issuance"],
)
def retry_after_syntax(ctx: CheckContext) -> None:
    issuance = ctx.issue()
    with noting("POST-as-GET the order once more"):
        ctx.session.post_as_get(issuance.order.url, issuance.account)
    seen = 0
    for exchange in ctx.recorder.exchanges:
        value = exchange.response_header("Retry-After")
        if value is None:
            continue
        seen += 1
        problem = retry_after_problem(value)
        if problem:
            raise fail(f"{exchange.method} {exchange.url}: malformed Retry-After", expected="delta-seconds or an "
                       "HTTP-date", actual=problem)
    ctx.note(f"{seen} response(s) carried Retry-After" if seen else "no response carried Retry-After")


@check(
    "headers.authz-poll-during-validation",
    title="Polling an authorization while validation is in progress answers 200 (Retry-After optional)",
    section="RFC 8555 §7.5.1",
    level="MUST",
    requirements=["RA-1"],
    sentence="In responding to poll requests while the validation is still in progress, the server MUST return a "
    "200 (OK) response and MAY include a Retry-After header field to suggest a polling interval to the client.",
    tags=["account", "validation"],
)
def authz_poll_during_validation(ctx: CheckContext) -> None:
    ctx.require_challenge_type("http-01")
    account, _, authz_url, authz = _pending_order(ctx)
    ctx.session.respond_to_challenge(account, authz, "http-01", ctx.backend)
    with noting("POST-as-GET the authorization right after answering the challenge"):
        response = ctx.session.post_as_get(authz_url, account)
    expect_status(response, {200}, "polling the authorization during validation")
    body = expect_json_object(response, "the authorization")
    ctx.note(f"the authorization was {body.get('status')!r} when polled")
    _judge_retry_after(response, "the authorization poll")


@check(
    "headers.challenge-retry-state",
    title="A challenge the server is retrying reports its error and Retry-After",
    section="RFC 8555 §8.2",
    level="MUST",
    requirements=["RA-2"],
    sentence='The server MUST provide information about its retry state to the client via the "error" field in the '
    "challenge and the Retry-After HTTP header field in response to requests to the challenge resource.",
    tags=["account", "validation"],
)
def challenge_retry_state(ctx: CheckContext) -> None:
    ctx.require_challenge_type("http-01")
    account, _, _, authz = _pending_order(ctx)
    challenge = find_challenge(authz, "http-01")
    url = str(challenge.get("url"))
    # Nothing is provisioned: the first validation attempt fails.
    with noting("POST {} to a challenge whose response is not provisioned"):
        answered = ctx.session.signed(url, {}, account)
    if answered.status_code != 200:
        raise SetupFailed(f"answering the challenge failed ({describe_response(answered)})")
    stop, delay = time.monotonic() + 10.0, 0.02
    while True:
        with noting("POST-as-GET the challenge"):
            response = ctx.session.post_as_get(url, account)
        body = json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise SetupFailed(f"polling the challenge failed ({describe_response(response)})")
        status = body.get("status")
        if status == "processing" and body.get("error") is not None:
            break  # the server says it failed once and is still trying: a retry state
        if status not in ("pending", "processing"):
            raise Skipped(f"the server does not retry failed validations (the challenge became {status!r}); "
                          "§8.2 retries are optional")
        if time.monotonic() > stop:
            raise Skipped(f"the challenge stayed {status!r} without an error for 10 s")
        ctx.session._sleep(delay)
        delay = min(delay * 2, 0.5)
    if response.headers.get("Retry-After") is None:
        raise fail("a retrying challenge gives no Retry-After", expected="a Retry-After header",
                   actual="none (status processing with an error)")
    _judge_retry_after(response, "the retrying challenge")


# -- media types -----------------------------------------------------------------------------


def _certificate_media(ctx: CheckContext, response: httpx.Response, what: str) -> str | None:
    """Fails unless ``response`` is a 200 PEM chain; returns the media type parameters if any."""
    expect_status(response, {200}, what)
    if media_type(response) != PEM_CHAIN:
        raise fail(f"{what}: not served as {PEM_CHAIN}", expected=f"Content-Type: {PEM_CHAIN}",
                   actual=f"Content-Type: {response.headers.get('Content-Type')}")
    value = response.headers.get("Content-Type", "")
    return value.split(";", 1)[1].strip() if ";" in value else None


@check(
    "headers.certificate-media-type",
    title="The certificate is served as application/pem-certificate-chain, without parameters",
    section="RFC 8555 §9.1",
    level="descr.",
    requirements=["CT-1"],
    sentence="The default format of the certificate is application/pem-certificate-chain (see Section 9). "
    "(§9.1 registration: 'Optional parameters: None')",
    tags=["account", "issuance", "validation"],
)
def certificate_media_type(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance()
    with noting("POST-as-GET the certificate without Accept"):
        plain = post_as_get_without_accept(ctx, issuance.certificate_url, issuance.account)
    with noting("POST-as-GET the certificate with Accept: application/pem-certificate-chain"):
        asked = ctx.session.post_as_get(issuance.certificate_url, issuance.account, headers={"Accept": PEM_CHAIN})
    parameters = [p for p in (_certificate_media(ctx, plain, "the certificate without Accept"),
                              _certificate_media(ctx, asked, "the certificate with Accept")) if p]
    if parameters:
        raise Warned(f"{PEM_CHAIN} is sent with a parameter the registration does not define",
                     expected=f"Content-Type: {PEM_CHAIN}", actual=f"parameters: {'; '.join(sorted(set(parameters)))}")


@check(
    "headers.certificate-without-accept",
    title="The certificate can be fetched without an Accept header (the default format)",
    section="RFC 8555 §7.4.2",
    level="descr.",
    requirements=["CT-2"],
    sentence="The ACME client MAY request other formats by including an Accept header field [RFC7231] in its "
    "request. ... The default format of the certificate is application/pem-certificate-chain.",
    tags=["account", "issuance", "validation"],
)
def certificate_without_accept(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance()
    with noting("POST-as-GET the certificate without Accept"):
        response = post_as_get_without_accept(ctx, issuance.certificate_url, issuance.account)
    if not 200 <= response.status_code < 300:
        raise fail("the certificate download demands an Accept header", expected="HTTP 200 with the default format",
                   actual=describe_response(response))
    if _chain_leaf(response.content) != issuance.leaf_der:
        raise fail("without Accept the server does not send the PEM chain", expected="the default PEM chain",
                   actual=f"Content-Type {response.headers.get('Content-Type')}")


@check(
    "headers.certificate-unavailable-format",
    title="Asking the certificate in a format it has no form for gives 406 or the default PEM chain",
    section="RFC 8555 §7.4.2",
    level="OPTIONAL",
    requirements=["CT-3"],
    sentence="Server support for alternate formats is OPTIONAL.",
    tags=["account", "issuance", "validation"],
)
def certificate_unavailable_format(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance()
    with noting("POST-as-GET the certificate with Accept: application/json"):
        response = ctx.session.post_as_get(issuance.certificate_url, issuance.account,
                                           headers={"Accept": "application/json"})
    if response.status_code == 406:
        return
    if response.status_code == 200 and media_type(response) == PEM_CHAIN and _chain_leaf(response.content):
        return
    raise fail("an unavailable certificate format got neither 406 nor the default chain",
               expected=f"HTTP 406, or 200 with {PEM_CHAIN}",
               actual=f"{describe_response(response)}, Content-Type {response.headers.get('Content-Type')}")


@check(
    "headers.json-media-type",
    title="JSON resources are served as application/json",
    section="RFC 8555 §7.1",
    level="descr.",
    requirements=["CT-4"],
    sentence="(§7.1 examples) HTTP/1.1 200 OK Content-Type: application/json",
    tags=["account"],
)
def json_media_type(ctx: CheckContext) -> None:
    account, order, authz_url, authz = _pending_order(ctx)
    targets: list[tuple[str, str | None]] = [
        ("the account", account.url),
        ("the orders list", account.body.get("orders") if isinstance(account.body.get("orders"), str) else None),
        ("the order", order.url),
        ("the authorization", authz_url),
    ]
    challenges = authz.get("challenges")
    if isinstance(challenges, list) and challenges and isinstance(challenges[0], dict):
        targets.append(("a challenge", str(challenges[0].get("url"))))
    wrong = []
    with noting("GET the directory"):
        directory = ctx.session.get(ctx.run.target.directory_url)
    if media_type(directory) != JSON:
        wrong.append(f"the directory: {directory.headers.get('Content-Type')}")
    for what, url in targets:
        if url is None:
            continue
        with noting(f"POST-as-GET {what}"):
            response = ctx.session.post_as_get(url, account)
        if response.status_code == 200 and media_type(response) != JSON:
            wrong.append(f"{what}: {response.headers.get('Content-Type')}")
    if wrong:
        raise fail("JSON resources served with another media type", expected=f"Content-Type: {JSON}",
                   actual="; ".join(wrong))


not_judged("LOC-4", "newAuthz is optional and Pebble 2.4.0 does not offer it, so no live proof of a check is possible "
           "here; pre-authorization flows are the PRE-* group")
not_judged("LOC-6", "nothing requires a Location on the finalize response (only an example shows one)")
