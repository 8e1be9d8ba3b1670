"""The complete issuance flow (RFC 8555 §7.4, §7.5.1, §8.3, §8.4, RFC 8737 §3, §9.1).

One check per challenge type: account, order, validation by our real responder, finalize
with a CSR, download; the certificate must carry the CSR's public key and exactly the
order's names.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conformance.acme import Issuance
from conformance.context import CheckContext
from conformance.judge import fail
from conformance.registry import check


def judge_certificate_matches_csr(issuance: Issuance) -> None:
    """The first certificate of the chain is the end-entity one for the CSR (RFC 8555 §9.1, §7.4)."""
    try:
        leaf = issuance.leaf
    except (ValueError, IndexError) as exc:
        raise fail("the downloaded chain holds no parseable certificate", expected="a PEM certificate chain",
                   actual=str(exc)) from exc
    csr = x509.load_der_x509_csr(issuance.csr_der)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if leaf.public_key().public_bytes(*spki) != csr.public_key().public_bytes(*spki):
        raise fail("the certificate's public key is not the CSR's", expected="the SubjectPublicKeyInfo of the CSR",
                   actual="a different public key")
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = sorted(str(v).lower() for v in san.get_values_for_type(x509.DNSName))
        names += sorted(str(v) for v in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        names = []
    wanted = sorted(i.value.lower() for i in issuance.identifiers)
    if names != wanted:
        raise fail("the certificate's names are not the order's identifiers", expected=", ".join(wanted),
                   actual=", ".join(names) or "(no subjectAltName)")
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise fail("the first certificate of the chain is a CA certificate",
                   expected="the end-entity certificate first", actual="basicConstraints cA=TRUE")


def _issuance_check(ctx: CheckContext, challenge_type: str) -> None:
    issuance = ctx.issue(challenge_type)
    judge_certificate_matches_csr(issuance)


_SENTENCE = (
    "The certificate ... [is] the end-entity certificate first (§9.1: 'The first certificate MUST be the "
    "end-entity certificate'); the CSR's identifiers and public key are what the client asked for (§7.4)."
)


@check(
    "issuance.http-01",
    title="A complete issuance with http-01 yields a certificate for the CSR's key and names",
    section="RFC 8555 §8.3",
    level="MUST",
    requirements=["CERT-3", "H01-1", "FIN-9", "FIN-10"],
    sentence=_SENTENCE,
    tags=["account", "validation", "issuance"],
)
def issuance_http01(ctx: CheckContext) -> None:
    _issuance_check(ctx, "http-01")


@check(
    "issuance.dns-01",
    title="A complete issuance with dns-01 yields a certificate for the CSR's key and names",
    section="RFC 8555 §8.4",
    level="MUST",
    requirements=["CERT-3", "D01-1"],
    sentence=_SENTENCE,
    tags=["account", "validation", "issuance"],
)
def issuance_dns01(ctx: CheckContext) -> None:
    _issuance_check(ctx, "dns-01")


@check(
    "issuance.tls-alpn-01",
    title="A complete issuance with tls-alpn-01 yields a certificate for the CSR's key and names",
    section="RFC 8737 §3",
    level="MUST",
    requirements=["CERT-3", "ALPN-1"],
    sentence=_SENTENCE,
    tags=["account", "validation", "issuance"],
)
def issuance_tlsalpn01(ctx: CheckContext) -> None:
    _issuance_check(ctx, "tls-alpn-01")
