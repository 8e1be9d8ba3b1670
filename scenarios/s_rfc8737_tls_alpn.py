"""tls-alpn-01 (RFC 8737 §3, §4): the validator's handshake, and which challenge certificates validate.

The wrong certificates are built here and installed on the built-in TLS responder for one SNI name,
so the server under test meets exactly the defect the check is about.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from conformance.context import CheckContext
from conformance.judge import fail
from conformance.registry import check
from conformance.responders.base import Identifier
from conformance.responders.tlsalpn01 import ACME_IDENTIFIER_OID, ACME_TLS_ALPN, tlsalpn01_server_name
from scenarios._validation import Attempt, attempt, builtin, expect_failed, expect_valid

_VAL = ["account", "validation"]
_FAILED_TYPES = {"unauthorized", "incorrectResponse", "tls", "connection"}


def challenge_certificate(
    ctx: CheckContext,
    identifier: Identifier,
    keyauth: str,
    *,
    critical: bool = True,
    digest: bytes | None = None,
    wrap: bool = True,
    extension: bool = True,
    san_names: list[str] | None = None,
    extra_ip: str | None = None,
) -> x509.Certificate:
    """An RFC 8737 §3 certificate, or one with exactly one defect chosen by the arguments."""
    key = builtin(ctx).tls.challenge_key
    value = hashlib.sha256(keyauth.encode("ascii")).digest() if digest is None else digest
    names: list[x509.GeneralName]
    if identifier.type == "ip":
        names = [x509.IPAddress(ipaddress.ip_address(identifier.value))]
    else:
        names = [x509.DNSName(n) for n in (san_names or [identifier.value])]
    if extra_ip:
        names.append(x509.IPAddress(ipaddress.ip_address(extra_ip)))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme-conformance tls-alpn-01")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
    )
    if extension:
        # extnValue is the DER OCTET STRING (04 20 || digest); wrap=False puts the bare digest there.
        raw = (b"\x04" + bytes([len(value)]) + value) if wrap else value
        builder = builder.add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, raw), critical=critical)
    return builder.sign(key, hashes.SHA256())


def alpn_attempt(ctx: CheckContext, *, alpn: bool = True, watch_after: float = 0.0,
                 identifiers: list[Identifier] | None = None, **defect: object) -> Attempt:
    responders = builtin(ctx)

    def provision(identifier: Identifier, _token: str, keyauth: str) -> None:
        cert = challenge_certificate(ctx, identifier, keyauth, **defect)  # type: ignore[arg-type]
        responders.tls.install(tlsalpn01_server_name(identifier), cert, alpn=alpn, watch_after=watch_after)

    return attempt(ctx, "tls-alpn-01", provision=provision, identifiers=identifiers)


def _handshakes(ctx: CheckContext, server_name: str, watched: bool = False) -> list:  # type: ignore[type-arg]
    """The handshakes seen for ``server_name``. The responder records a connection when it ends (after
    the post-handshake watch, if any), which can be a moment after the authorization turned valid:
    poll briefly for a completed one instead of reading too early."""
    deadline = time.monotonic() + (5.0 if watched else 2.0)
    while True:
        seen = [h for h in builtin(ctx).tls.handshakes() if h.sni == server_name]
        done = [h for h in seen if h.error is None and (not watched or h.after is not None)]
        if done or time.monotonic() > deadline:
            return seen
        time.sleep(0.02)


@check(
    "tlsalpn.client-hello",
    title="The tls-alpn-01 validator offers only acme-tls/1 and sends the domain as SNI; a correct certificate validates",
    section="RFC 8737 §3",
    level="MUST",
    requirements=["ALPN-2", "ALPN-3"],
    sentence='The ACME server MUST provide a ALPN extension with the single protocol name "acme-tls/1" and a SNI '
    "extension containing only the domain name being validated during the TLS handshake.",
    tags=_VAL,
)
def tlsalpn_client_hello(ctx: CheckContext) -> None:
    result = alpn_attempt(ctx)
    expect_valid(result, "a correct acme-tls/1 certificate")
    name = str(result.authz["identifier"]["value"]).lower()
    seen = _handshakes(ctx, name)
    if not seen:
        raise fail("no handshake with the domain as SNI reached the responder", expected=f"SNI {name}",
                   actual="none")
    for handshake in seen:
        if handshake.offered_alpn != (ACME_TLS_ALPN,):
            raise fail("the ClientHello does not offer exactly acme-tls/1", expected=f"ALPN [{ACME_TLS_ALPN}]",
                       actual=f"ALPN {list(handshake.offered_alpn) if handshake.offered_alpn is not None else None}")
    ctx.note(f"validation reached the responder on port {builtin(ctx).tls_port} (443 is the RFC's; a lab "
             "configures the server to use this one)")


def _defect_check(ctx: CheckContext, what: str, **defect: object) -> None:
    expect_failed(alpn_attempt(ctx, **defect), _FAILED_TYPES, what)  # type: ignore[arg-type]


@check(
    "tlsalpn.non-critical-extension-fails",
    title="A challenge certificate whose acmeIdentifier extension is not critical does not validate",
    section="RFC 8737 §3",
    level="descr.",
    requirements=["ALPN-4"],
    sentence="[The ACME server verifies] that the certificate returned contains: ... a critical acmeIdentifier "
    "extension containing the expected SHA-256 digest computed in step 1. ... If all of the above steps succeed "
    "then the validation is successful, otherwise it fails.",
    tags=_VAL,
)
def tlsalpn_non_critical(ctx: CheckContext) -> None:
    _defect_check(ctx, "a non-critical acmeIdentifier", critical=False)


@check(
    "tlsalpn.bad-extension-fails",
    title="A wrong digest, a missing acmeIdentifier, or a digest without the OCTET STRING wrapping does not validate",
    section="RFC 8737 §3",
    level="descr.",
    requirements=["ALPN-5"],
    sentence="[The ACME server verifies that the certificate returned contains] a critical acmeIdentifier "
    "extension containing the expected SHA-256 digest computed in step 1 (its extnValue is the DER of "
    "Authorization ::= OCTET STRING (SIZE (32))). ... otherwise it fails.",
    tags=_VAL,
)
def tlsalpn_bad_extension(ctx: CheckContext) -> None:
    _defect_check(ctx, "a wrong digest", digest=b"\x00" * 32)
    _defect_check(ctx, "no acmeIdentifier extension", extension=False)
    _defect_check(ctx, "a digest without its OCTET STRING wrapping", wrap=False)


@check(
    "tlsalpn.extra-san-fails",
    title="A challenge certificate with another dNSName or an IP entry in its SAN does not validate",
    section="RFC 8737 §3",
    level="descr.",
    requirements=["ALPN-6"],
    sentence="[The ACME server verifies that the certificate returned contains] a subjectAltName extension "
    "containing the dNSName being validated and no other entries ... If all of the above steps succeed then the "
    "validation is successful, otherwise it fails.",
    tags=_VAL,
)
def tlsalpn_extra_san(ctx: CheckContext) -> None:
    def two_names(identifier: Identifier) -> list[str]:
        return [identifier.value, "other." + identifier.value]

    result = _with_names(ctx, two_names)
    expect_failed(result, _FAILED_TYPES, "a second dNSName")
    _defect_check(ctx, "an extra iPAddress entry", extra_ip="127.0.0.1")


def _with_names(ctx: CheckContext, names: Callable[[Identifier], list[str]]) -> Attempt:
    responders = builtin(ctx)

    def provision(identifier: Identifier, _token: str, keyauth: str) -> None:
        cert = challenge_certificate(ctx, identifier, keyauth, san_names=names(identifier))
        responders.tls.install(tlsalpn01_server_name(identifier), cert)

    return attempt(ctx, "tls-alpn-01", provision=provision)


@check(
    "tlsalpn.san-case-insensitive",
    title="A SAN dNSName differing only in letter case still validates",
    section="RFC 8737 §3",
    level="MUST",
    requirements=["ALPN-7"],
    sentence="The comparison of dNSNames MUST be case insensitive [RFC4343].",
    tags=_VAL,
)
def tlsalpn_case(ctx: CheckContext) -> None:
    result = _with_names(ctx, lambda identifier: [identifier.value.upper()])
    expect_valid(result, "a SAN in upper case")


@check(
    "tlsalpn.no-alpn-fails",
    title="A responder that does not negotiate acme-tls/1 does not validate",
    section="RFC 8737 §3",
    level="descr.",
    requirements=["ALPN-8"],
    sentence='The ACME server verifies that during the TLS handshake the application-layer protocol "acme-tls/1" '
    "was successfully negotiated ... If all of the above steps succeed then the validation is successful, "
    "otherwise it fails.",
    tags=_VAL,
)
def tlsalpn_no_alpn(ctx: CheckContext) -> None:
    _defect_check(ctx, "a handshake without ALPN", alpn=False)


@check(
    "tlsalpn.no-application-data",
    title="After the acme-tls/1 handshake the validator sends no application data and closes",
    section="RFC 8737 §4",
    level="MUST",
    requirements=["ALPN-9"],
    sentence="Once the handshake is completed the client MUST NOT exchange any further data with the server and "
    "MUST immediately close the connection.",
    tags=_VAL,
)
def tlsalpn_no_application_data(ctx: CheckContext) -> None:
    result = alpn_attempt(ctx, watch_after=2.0)
    expect_valid(result, "a correct acme-tls/1 certificate")
    name = str(result.authz["identifier"]["value"]).lower()
    after = [h.after for h in _handshakes(ctx, name, watched=True) if h.error is None]
    if not after:
        raise fail("no completed handshake was seen", expected="a completed acme-tls/1 handshake", actual="none")
    if any(state != "closed" for state in after):
        raise fail("the validator did not close the connection right after the handshake",
                   expected="connection closed, no application data", actual=", ".join(str(a) for a in after))
