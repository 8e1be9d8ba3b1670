"""IP identifiers (RFC 8738): authorizations, the challenges offered, validation and the certificate.

Only 127.0.0.1 can be validated here (the responders listen on loopback), so the checks that
validate use it; the object checks use documentation addresses that are never contacted.
"""

from __future__ import annotations

import ipaddress
import time

from cryptography import x509

from conformance.acme import Order, SetupFailed, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.judge import fail
from conformance.model import Skipped
from conformance.recorder import noting
from conformance.registry import check
from conformance.responders.base import Identifier
from conformance.responders.tlsalpn01 import tlsalpn01_server_name
from scenarios._validation import attempt, builtin, expect_valid

LOOPBACK = Identifier("ip", "127.0.0.1")
_REVERSE = ipaddress.ip_address(LOOPBACK.value).reverse_pointer


def ip_order(ctx: CheckContext, identifiers: list[Identifier]) -> Order:
    """An order for IP identifiers, or SKIP when the server (or the run) does not do IP identifiers."""
    if not ctx.run.options.ip_identifiers:
        raise Skipped("IP identifiers are disabled for this run")
    account = ctx.new_account()
    with noting("newOrder with IP identifiers"):
        response = ctx.session.new_order_request(account, identifiers)
    body = json_or_none(response)
    if response.status_code != 201 or not isinstance(body, dict) or not response.headers.get("Location"):
        ptype = body.get("type") if isinstance(body, dict) else None
        if isinstance(ptype, str) and ptype.endswith(("unsupportedIdentifier", "rejectedIdentifier")):
            raise Skipped(f"the server does not accept IP identifiers ({describe_response(response)})")
        raise SetupFailed(f"newOrder with IP identifiers failed ({describe_response(response)})")
    return Order(url=str(response.headers["Location"]), body=body, account=account)


def _ip_authzs(ctx: CheckContext) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    order = ip_order(ctx, [Identifier("ip", "192.0.2.10"), Identifier("ip", "2001:db8::1")])
    return ctx.session.authorizations(order)


@check(
    "ip.authz-identifier-form",
    title='IP authorizations have type "ip" and the address in its canonical textual form',
    section="RFC 8738 §3",
    level="MUST",
    requirements=["IP-1"],
    sentence='If a ACME server wishes to request proof that a user controls a IPv4 or IPv6 address it MUST create '
    'an authorization with the identifier type "ip". The value field of the identifier MUST contain the textual '
    "form of the address as defined in RFC 1123 Section 2.1 for IPv4 and in RFC 5952 Section 4 for IPv6.",
    tags=["account"],
)
def ip_authz_identifier(ctx: CheckContext) -> None:
    seen = set()
    for url, authz in _ip_authzs(ctx):
        ident = authz.get("identifier") or {}
        value = ident.get("value")
        if ident.get("type") != "ip" or not isinstance(value, str):
            raise fail("an IP authorization's identifier is not of type ip", expected='{"type": "ip", ...}',
                       actual=f"{url}: {ident!r}")
        try:
            canonical = str(ipaddress.ip_address(value))
        except ValueError:
            canonical = None
        if canonical != value:
            raise fail("an IP authorization's value is not the canonical textual form", expected=str(canonical),
                       actual=repr(value))
        seen.add(value)
    if seen != {"192.0.2.10", "2001:db8::1"}:
        raise fail("the IP authorizations do not name the ordered addresses", expected="192.0.2.10, 2001:db8::1",
                   actual=", ".join(sorted(seen)))


@check(
    "ip.no-dns-01",
    title="IP authorizations never offer dns-01",
    section="RFC 8738 §7",
    level="MUST NOT",
    requirements=["IP-2"],
    sentence='The existing "dns-01" challenge MUST NOT be used to validate IP identifiers.',
    tags=["account"],
)
def ip_no_dns01(ctx: CheckContext) -> None:
    for url, authz in _ip_authzs(ctx):
        types = [c.get("type") for c in authz.get("challenges") or [] if isinstance(c, dict)]
        if "dns-01" in types:
            raise fail("an IP authorization offers dns-01", expected="http-01 and/or tls-alpn-01 only",
                       actual=f"{url}: {', '.join(map(str, types))}")


def _ip_attempt(ctx: CheckContext, challenge_type: str):  # type: ignore[no-untyped-def]
    order = ip_order(ctx, [LOOPBACK])  # proves the server takes IP identifiers before we validate
    return attempt(ctx, challenge_type, identifiers=[LOOPBACK], account=order.account)


@check(
    "ip.http-01-to-the-address",
    title="http-01 for an IP identifier connects to the address itself, with the address as Host, no DNS lookup",
    section="RFC 8738 §5",
    level="MUST",
    requirements=["IP-3"],
    sentence="To use IP identifiers with these challenges their initial DNS resolution step MUST be skipped and "
    'the IP address used for validation MUST be the value of the identifier. For the "http-01" challenge the Host '
    "header MUST be set to the IP address being used for validation.",
    tags=["account", "validation"],
)
def ip_http01(ctx: CheckContext) -> None:
    responders = builtin(ctx)
    before = len(responders.dns.queries())
    result = _ip_attempt(ctx, "http-01")
    expect_valid(result, "http-01 for 127.0.0.1")
    hosts = [r.host for r in responders.http.requests() if r.path.endswith("/" + result.token)]
    if not hosts or any((h or "").rsplit(":", 1)[0] != LOOPBACK.value for h in hosts):
        raise fail("the validation request's Host is not the IP address", expected=f"Host: {LOOPBACK.value}",
                   actual=", ".join(map(str, hosts)) or "no request")
    lookups = [q for q in responders.dns.queries()[before:] if q.qname in (LOOPBACK.value, _REVERSE)]
    if lookups:
        raise fail("the server made DNS lookups for the IP identifier", expected="no DNS query",
                   actual=", ".join(f"{q.qtype} {q.qname}" for q in lookups))


@check(
    "ip.tls-alpn-01-reverse-sni",
    title="tls-alpn-01 for an IP identifier uses the reverse-DNS name as SNI and validates an iPAddress SAN",
    section="RFC 8738 §6",
    level="MUST",
    requirements=["IP-4"],
    sentence="As RFC 6066 does not permit IP addresses to be used in the SNI extension HostName field the server "
    "MUST instead use the IN-ADDR.ARPA or IP6.ARPA reverse mapping of the IP address as the HostName field value "
    "instead of the IP address string representation itself.",
    # exclusive: every IP check uses 127.0.0.1, and the tls-alpn-01 responder serves one certificate per
    # SNI, so two of these at once would overwrite each other's challenge certificate.
    tags=["account", "validation", "exclusive"],
)
def ip_tlsalpn(ctx: CheckContext) -> None:
    responders = builtin(ctx)
    result = _ip_attempt(ctx, "tls-alpn-01")
    wanted = tlsalpn01_server_name(LOOPBACK)
    deadline = time.monotonic() + 2.0
    # The responder records a connection when it ends, possibly a moment after the authorization turned valid.
    while wanted not in (names := {h.sni for h in responders.tls.handshakes()}) and time.monotonic() < deadline:
        time.sleep(0.02)
    if tlsalpn01_server_name(LOOPBACK) not in names:
        raise fail("no handshake used the reverse-DNS name as SNI", expected=f"SNI {_REVERSE}",
                   actual=f"status {result.authz.get('status')!r}")
    expect_valid(result, "tls-alpn-01 for 127.0.0.1")


@check(
    "ip.certificate-ip-san",
    title="A certificate issued for an IP identifier carries it as an iPAddress SAN",
    section="RFC 8738 §3",
    level="descr.",
    requirements=["IP-5"],
    sentence="This document specifies identifiers and challenges required to enable the Automated Certificate "
    "Management Environment (ACME) to issue certificates for IP addresses (the address goes in an iPAddress "
    "subjectAltName, RFC 5280 §4.2.1.6).",
    tags=["account", "validation", "issuance"],
)
def ip_certificate(ctx: CheckContext) -> None:
    ip_order(ctx, [LOOPBACK])
    issuance = ctx.issue("http-01", identifiers=[LOOPBACK])
    try:
        san = issuance.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ips = [str(v) for v in san.get_values_for_type(x509.IPAddress)]
        dns = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        ips, dns = [], []
    if ips != [LOOPBACK.value]:
        raise fail("the certificate does not carry the IP identifier as an iPAddress SAN",
                   expected=f"iPAddress {LOOPBACK.value}", actual=f"iPAddress {ips}, dNSName {dns}")
