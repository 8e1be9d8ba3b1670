"""Security and operational items a black box can observe (RFC 8555 §10.5, §11.1, §11.2, §11.3).

The CSR-carries-the-account-key rule (§11.1, SEC-3) is judged by finalize.csr-account-key-rejected.
"""

from __future__ import annotations

import re
import secrets
import string
from urllib.parse import urlsplit, urlunsplit

import httpx

from conformance.context import CheckContext
from conformance.judge import fail
from conformance.model import Informational, Skipped
from conformance.recorder import noting
from conformance.registry import check, not_judged
from conformance.responders.builtin import BuiltinResponders
from scenarios._orders import first_authorization, order_names, pending_order, ready_order, short_type

_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")
_MIN_TOKEN_CHARS = 22  # 128 bits = 16 bytes = 22 base64url characters


def _segments(url: str) -> list[str]:
    return [s for s in urlsplit(url).path.split("/") if s]


def predictable_difference(first: str, second: str) -> str | None:
    """Why two URLs of the same kind look guessable from each other, or None.

    Only what is safe to call guessable: the parts that differ are all decimal integers (a counter).
    """
    a, b = _segments(first), _segments(second)
    if len(a) != len(b):
        return None
    differing = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    if differing and all(x.isdigit() and y.isdigit() for x, y in differing):
        return "the only differing path components are decimal numbers: " + ", ".join(
            f"{x} → {y}" for x, y in differing)
    return None


@check(
    "security.unpredictable-urls",
    title="Account and order URLs carry an unpredictable component, not a counter or the domain name",
    section="RFC 8555 §10.5",
    level="SHOULD",
    requirements=["SEC-1"],
    sentence="To avoid leaking these correlations, CAs SHOULD assign URLs with an unpredictable component.",
    tags=["account", "two-accounts"],
)
def unpredictable_urls(ctx: CheckContext) -> None:
    first_account, second_account = ctx.new_account(), ctx.new_account()
    first_order = pending_order(ctx, first_account)
    second_order = pending_order(ctx, first_account)
    pairs = {
        "account": (first_account.url, second_account.url),
        "order": (first_order.url, second_order.url),
        "authorization": (first_authorization(first_order), first_authorization(second_order)),
    }
    for kind, (one, two) in pairs.items():
        why = predictable_difference(one, two)
        if why:
            raise fail(f"two {kind} URLs created back to back are predictable", expected="an unpredictable component",
                       actual=f"{one} and {two}: {why}")
    for order in (first_order, second_order):
        for ident in order.body.get("identifiers", []):
            value = str(ident.get("value", "")).lower() if isinstance(ident, dict) else ""
            for url in [order.url, *map(str, order.body.get("authorizations", []))]:
                if value and value in url.lower():
                    raise fail("a resource URL contains the identifier it is about (§10.5's structured URLs)",
                               expected="URLs that do not reveal the domain name", actual=url)


def _nonexistent_like(url: str) -> str:
    """The same URL with its last path component replaced by a random one of the same shape."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    last = segments[-1] or "x"
    alphabet = string.digits if last.isdigit() else string.ascii_letters + string.digits
    segments[-1] = "".join(secrets.choice(alphabet) for _ in last)
    return urlunsplit(parts._replace(path="/".join(segments)))


def _shape(response: httpx.Response) -> tuple[int, str | None]:
    return response.status_code, short_type(response)


@check(
    "security.foreign-and-missing-look-alike",
    title="Another account's order/authorization and a non-existent one get the same refusal",
    section="RFC 8555 §10.5",
    level="descr.",
    requirements=["SEC-2"],
    sentence="If the server operator uses URLs that are predictable to third parties, this can leak information "
    "about what URLs exist on the server, since an attacker can probe for whether a POST-as-GET request to the "
    "URL returns 404 (Not Found) or 401 (Unauthorized).",
    tags=["account", "two-accounts"],
)
def foreign_and_missing(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    intruder = ctx.new_account()
    differences = []
    for kind, url in (("order", order.url), ("authorization", first_authorization(order))):
        with noting(f"the second account fetches the first account's {kind}"):
            foreign = ctx.session.post_as_get(url, intruder)
        with noting(f"the second account fetches a non-existent {kind}"):
            missing = ctx.session.post_as_get(_nonexistent_like(url), intruder)
        if 200 <= foreign.status_code < 300:
            raise Skipped(f"the server hands out another account's {kind} (judged by the unauthorized checks)")
        if _shape(foreign) != _shape(missing):
            differences.append(f"{kind}: foreign {_shape(foreign)} vs missing {_shape(missing)}")
    if differences:
        # §10.5 states the risk without a requirement: worth knowing, not a deviation.
        raise Informational("an existing but foreign resource is distinguishable from a missing one",
                            actual="; ".join(differences))


@check(
    "security.account-key-single-account",
    title="A second newAccount with the same key names the same account, never a new one",
    section="RFC 8555 §11.1",
    level="MUST",
    requirements=["SEC-4"],
    sentence="Because ACME accounts are uniquely identified by their account key pair (see Section 7.3.1), the "
    "server MUST not allow account key pair reuse across multiple accounts.",
    tags=["account"],
)
def account_key_single_account(ctx: CheckContext) -> None:
    key = ctx.new_key()
    first = ctx.session.create_account(key, eab=ctx.run.account_binding())
    with noting("newAccount again with the same key"):
        again = ctx.session.new_account_request(key, eab=ctx.run.account_binding())
    location = again.headers.get("Location")
    if 200 <= again.status_code < 300 and location and location != first.url:
        raise fail("the same key got a second account", expected=f"Location: {first.url}",
                   actual=f"HTTP {again.status_code}, Location: {location}")
    ctx.note(f"second newAccount: HTTP {again.status_code}, Location {location}")


@check(
    "security.token-entropy",
    title="Challenge tokens are base64url with at least 128 bits and never repeat across authorizations",
    section="RFC 8555 §11.3",
    level="MUST",
    requirements=["SEC-5"],
    sentence="The value of the token is required to contain at least 128 bits of entropy ... token (required, "
    "string): A random value that uniquely identifies the challenge. This value MUST have at least 128 bits of "
    "entropy. It MUST NOT contain any characters outside the base64url alphabet",
    tags=["account"],
)
def token_entropy(ctx: CheckContext) -> None:
    order = pending_order(ctx, identifiers=ctx.new_identifiers(2))
    owner_of: dict[str, str] = {}
    for url, authz in ctx.session.authorizations(order):
        for challenge in authz.get("challenges", []):
            if not isinstance(challenge, dict) or "token" not in challenge:
                continue
            token = challenge["token"]
            where = f"{challenge.get('type')} challenge of {url}"
            if not isinstance(token, str) or not _BASE64URL.match(token):
                raise fail("a challenge token is not base64url", expected="only [A-Za-z0-9_-], no padding",
                           actual=f"{where}: {token!r}")
            if len(token) < _MIN_TOKEN_CHARS:
                raise fail("a challenge token is shorter than 128 bits", expected=f">= {_MIN_TOKEN_CHARS} characters",
                           actual=f"{where}: {len(token)} characters")
            # One token may serve several challenge types of one authorization (the §7.5 example does).
            if owner_of.setdefault(token, url) != url:
                raise fail("two authorizations share a challenge token", expected="a fresh random token each",
                           actual=f"{token} in {owner_of[token]} and {url}")
    if not owner_of:
        raise Skipped("the authorizations offer no challenge with a token")


@check(
    "security.dns-queries-over-tcp",
    title="dns-01 validation queries reach the DNS server over TCP",
    section="RFC 8555 §11.2",
    level="SHOULD",
    requirements=["SEC-7"],
    sentence="Servers SHOULD perform DNS queries over TCP, which provides better resistance to some forgery "
    "attacks than DNS over UDP.",
    tags=["account", "validation"],
)
def dns_over_tcp(ctx: CheckContext) -> None:
    backend = ctx.backend
    if not isinstance(backend, BuiltinResponders):
        raise Skipped("needs the built-in DNS responder to see the transport of each query")
    order = ready_order(ctx, challenge_type="dns-01")
    names = {f"_acme-challenge.{name}".lower() for name in order_names(order)}
    seen = {q.protocol for q in backend.dns.queries() if q.qname in names and q.qtype == "TXT"}
    if not seen:
        raise Skipped("the DNS responder saw no TXT query for the challenge (another resolver answered)")
    if "tcp" not in seen:
        # The catalogue grades this as information: a lab's resolver path says little about production.
        raise Informational("the dns-01 TXT lookups came over UDP only", expected="TCP (SHOULD)",
                            actual=", ".join(sorted(seen)))


not_judged("SEC-6", "multi-perspective validation (§10.2) cannot be told apart on a loopback-only lab: every "
           "validation request comes from 127.0.0.1")
not_judged("SEC-8", "§10.4's lower-case 'should' (validate only public addresses) cannot be probed here: the lab "
           "must resolve every name to loopback")
