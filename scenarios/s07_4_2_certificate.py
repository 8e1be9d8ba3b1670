"""Certificate download (RFC 8555 §7.4.2, §9.1, §11.4; RFC 7468 §3): the PEM chain's strict
encoding, its order and links, immutability, alternate chains and Accept negotiation.

Black-box: the chain's links are verified (each certificate signs the one before it); the trust
anchor is not, because a server's root is only known out of band (Pebble: management API).
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization

from conformance.acme import PEM_CHAIN, link_targets
from conformance.context import CheckContext
from conformance.judge import expect_status, fail, media_type
from conformance.model import Skipped
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._orders import load_chain

PKIX_CERT = "application/pkix-cert"
_EOL = re.compile(r"\r\n|\r|\n")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_BEGIN = "-----BEGIN CERTIFICATE-----"
_END = "-----END CERTIFICATE-----"


def strict_pem_problem(data: bytes) -> str | None:
    """Why ``data`` is not ``certchain`` (RFC 8555 §9.1 over RFC 7468 ``stricttextualmsg``), or None.

    Between blocks any number of line breaks is accepted: the ABNF's literal reading (an empty line
    between certificates) is not what servers or clients do, and §9.1 only asks for "eol" separation.
    """
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return "the body is not ASCII text"
    lines = _EOL.split(text)
    if lines[-1] != "":
        return "the last line has no line break (stricttextualmsg ends with eol)"
    lines = lines[:-1]
    index, blocks = 0, 0
    while index < len(lines):
        line = lines[index]
        if line == "" and blocks:
            if all(rest == "" for rest in lines[index:]):
                return "empty lines after the last certificate"
            index += 1
            continue
        if line != _BEGIN:
            if line.startswith(_BEGIN):
                return f"line {index + 1}: characters after the BEGIN line's dashes (strict: none): {line!r}"
            if line.startswith("-----BEGIN"):
                return f"a {line!r} block: only certificates may appear (RFC 8555 §11.4)"
            return f"line {index + 1} is outside any certificate block (explanatory text?): {line[:60]!r}"
        start = index + 1
        index = start
        while index < len(lines) and not lines[index].startswith("-----END"):
            index += 1
        if index == len(lines):
            return f"the block starting at line {start} has no END line"
        if lines[index] != _END:
            return f"line {index + 1} ends a certificate block with {lines[index]!r}"
        body = lines[start:index]
        problem = _base64_block_problem(body, start + 1)
        if problem:
            return problem
        try:
            x509.load_der_x509_certificate(base64.b64decode("".join(body), validate=True))
        except (ValueError, binascii.Error) as exc:
            return f"the block starting at line {start} is not a DER certificate ({exc})"
        blocks += 1
        index += 1
    return None if blocks else "no certificate block at all"


def _base64_block_problem(body: list[str], first_line: int) -> str | None:
    if not body:
        return f"an empty certificate block at line {first_line}"
    for offset, line in enumerate(body):
        number = first_line + offset
        last = offset == len(body) - 1
        if not _BASE64.match(line) or ("=" in line and not last):
            return f"line {number} is not strict base64 (whitespace or stray characters): {line[:60]!r}"
        if not last and len(line) != 64:
            return f"line {number} has {len(line)} base64 characters (strict: 64 on every line but the last)"
        if last and (not line or len(line) > 64 or len(line) % 4):
            return f"the last base64 line {number} has {len(line)} characters (a multiple of 4, at most 64)"
    return None


@check(
    "certificate.download-pem-chain",
    title="POST-as-GET of the certificate URL answers 200 with application/pem-certificate-chain",
    section="RFC 8555 §7.4.2",
    level="descr.",
    requirements=["CERT-1"],
    sentence="To download the issued certificate, the client simply sends a POST-as-GET request to the "
    "certificate URL. The default format of the certificate is application/pem-certificate-chain",
    tags=["account", "validation", "issuance"],
)
def download_pem_chain(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    with noting("download the certificate"):
        response = ctx.session.post_as_get(issuance.certificate_url, issuance.account,
                                           headers={"Accept": PEM_CHAIN})
    expect_status(response, {200}, "certificate download")
    if media_type(response) != PEM_CHAIN:
        raise fail("the certificate is not served as application/pem-certificate-chain", expected=PEM_CHAIN,
                   actual=repr(response.headers.get("Content-Type")))


@check(
    "certificate.strict-pem",
    title="The chain is strict RFC 7468 PEM: only CERTIFICATE blocks, 64-character lines, no other text",
    section="RFC 8555 §9.1",
    level="MUST",
    requirements=["CERT-2"],
    sentence="The textual encoding of certificates in this file MUST use the strict encoding and MUST NOT "
    "include explanatory text.",
    tags=["account", "validation", "issuance"],
)
def strict_pem(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    problem = strict_pem_problem(issuance.chain_pem)
    if problem:
        raise fail("the certificate chain is not strict PEM", expected="certchain = stricttextualmsg "
                   "*(eol stricttextualmsg)", actual=problem)


@check(
    "certificate.chain-links",
    title="Each certificate after the first directly certifies the one before it",
    section="RFC 8555 §9.1",
    level="SHOULD",
    requirements=["CERT-4"],
    sentence="Each following certificate SHOULD directly certify the one preceding it.",
    tags=["account", "validation", "issuance"],
)
def chain_links(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    chain = load_chain(issuance.chain_pem)
    if not chain:
        raise fail("the download holds no parseable certificate", expected="a PEM chain", actual="none")
    ctx.note(f"{len(chain)} certificate(s) in the chain")
    for position, (child, parent) in enumerate(zip(chain, chain[1:], strict=False), start=1):
        judge_link(child, parent, position)


def judge_link(child: x509.Certificate, parent: x509.Certificate, position: int) -> None:
    """``parent`` (certificate position+1) must have issued ``child`` (certificate ``position``)."""
    where = f"certificate {position + 1} does not certify certificate {position}"
    if child.issuer != parent.subject:
        raise fail(where, expected=f"subject {child.issuer.rfc4514_string()}",
                   actual=f"subject {parent.subject.rfc4514_string()}")
    try:
        aki = child.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
        ski = parent.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        aki = ski = None
    if aki is not None and ski is not None and aki != ski:
        raise fail(where, expected=f"subjectKeyIdentifier {aki.hex()}", actual=f"subjectKeyIdentifier {ski.hex()}")
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise fail(where, expected="a signature by the next certificate's key",
                   actual=f"{type(exc).__name__}: {exc}") from exc


@check(
    "certificate.immutable",
    title="Fetching the certificate again gives the same bytes",
    section="RFC 8555 §7.4.2",
    level="descr.",
    requirements=["CERT-6"],
    sentence="A certificate resource represents a single, immutable certificate.",
    tags=["account", "validation", "issuance"],
)
def immutable(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    for attempt in (1, 2):
        with noting(f"download the certificate again ({attempt})"):
            response = ctx.session.post_as_get(issuance.certificate_url, issuance.account,
                                               headers={"Accept": PEM_CHAIN})
        expect_status(response, {200}, "certificate download")
        if response.content != issuance.chain_pem:
            first, again = load_chain(issuance.chain_pem), load_chain(response.content)
            same_leaf = bool(first and again and first[0] == again[0])
            raise fail("the certificate resource changed between downloads",
                       expected=f"the same {len(issuance.chain_pem)} bytes",
                       actual=f"{len(response.content)} different bytes (same end-entity certificate: {same_leaf})")


@check(
    "certificate.alternate-chains",
    title="Each rel=\"alternate\" chain starts with the same end-entity certificate",
    section="RFC 8555 §7.4.2",
    level="SHOULD",
    requirements=["CERT-8", "LINK-3"],
    sentence="The server MAY provide one or more link relation header fields [RFC5988] with relation "
    "\"alternate\". Each such field SHOULD express an alternative certificate chain starting with the same "
    "end-entity certificate.",
    tags=["account", "validation", "issuance"],
)
def alternate_chains(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    alternates = [u for u in link_targets(issuance.response, "alternate") if u != issuance.certificate_url]
    if not alternates:
        raise Skipped("the certificate has no rel=\"alternate\" chains (they are optional)")
    leaf = issuance.leaf
    ctx.note(f"{len(alternates)} alternate chain(s)")
    for url in alternates:
        with noting("download an alternate chain"):
            response = ctx.session.post_as_get(url, issuance.account, headers={"Accept": PEM_CHAIN})
        if response.status_code != 200:
            raise fail("an alternate chain cannot be downloaded", expected="HTTP 200",
                       actual=f"{url}: HTTP {response.status_code}")
        chain = load_chain(response.content)
        if not chain or chain[0] != leaf:
            raise fail("an alternate chain does not start with the same end-entity certificate",
                       expected=f"serial {leaf.serial_number:x} first",
                       actual=f"{url}: " + (f"serial {chain[0].serial_number:x}" if chain else "no certificate"))
        for position, (child, parent) in enumerate(zip(chain, chain[1:], strict=False), start=1):
            judge_link(child, parent, position)


@check(
    "certificate.pkix-cert-format",
    title="Where application/pkix-cert is offered, it is the end-entity DER with Link rel=\"up\"",
    section="RFC 8555 §7.4.2",
    level="SHOULD",
    requirements=["CERT-8", "LINK-4"],
    sentence="Server support for alternate formats is OPTIONAL. For formats that can only express a single "
    "certificate, the server SHOULD provide one or more \"Link: rel=\"up\"\" header fields pointing to an "
    "issuer or issuers so that ACME clients can build a certificate chain as defined in TLS",
    tags=["account", "validation", "issuance"],
)
def pkix_cert(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    with noting("download the certificate with Accept: application/pkix-cert"):
        response = ctx.session.post_as_get(issuance.certificate_url, issuance.account, headers={"Accept": PKIX_CERT})
    if response.status_code != 200 or media_type(response) != PKIX_CERT:
        raise Skipped(f"application/pkix-cert is not offered (HTTP {response.status_code}, "
                      f"{response.headers.get('Content-Type')!r}); alternate formats are OPTIONAL")
    expected = issuance.leaf.public_bytes(serialization.Encoding.DER)
    if response.content != expected:
        raise fail("the application/pkix-cert body is not the end-entity certificate in DER",
                   expected=f"{len(expected)} bytes of DER", actual=f"{len(response.content)} other bytes")
    if not link_targets(response, "up"):
        raise fail("the single-certificate format comes without a Link rel=\"up\" to the issuer",
                   expected='Link: <issuer URL>;rel="up"', actual="no rel=\"up\" link")


not_judged("CERT-5", "a MAY with no wrong answer: including or omitting the trust anchor are both allowed")
not_judged("CERT-7", "a MAY with no wrong answer: caching headers on the certificate are optional")
