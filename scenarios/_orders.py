"""Helpers shared by the order, finalize, certificate, access-control and security scenarios
(not a scenario module: the leading underscore keeps the loader away).

They drive an order to a given state (pending, ready, invalid), build deliberately odd CSRs, and
read the names and validity out of issued certificates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from conformance.acme import PEM_CHAIN, Account, Order, SetupFailed, json_or_none
from conformance.context import CheckContext
from conformance.recorder import noting
from conformance.responders.base import Identifier

PROBLEM_PREFIX = "urn:ietf:params:acme:error:"
ORDER_STATUSES = frozenset({"pending", "ready", "processing", "valid", "invalid"})
# RFC 3339 §5.6 date-time (the "T" and "Z" may be lower case, fractional seconds optional).
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

CsrKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def short_type(response: httpx.Response) -> str | None:
    """The problem type without the ACME URN prefix (full URI when it is another namespace)."""
    body = json_or_none(response)
    value = body.get("type") if isinstance(body, dict) else None
    if not isinstance(value, str):
        return None
    return value[len(PROBLEM_PREFIX):] if value.startswith(PROBLEM_PREFIX) else value


def is_success(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


def pending_order(
    ctx: CheckContext, account: Account | None = None, identifiers: list[Identifier] | None = None
) -> Order:
    """A fresh order nobody has validated anything for."""
    account = account or ctx.new_account()
    order = ctx.session.create_order(account, identifiers or ctx.new_identifiers())
    require_shape(order)
    return order


def require_shape(order: Order) -> None:
    """Set-up needs identifiers, authorizations and finalize in usable form (order.fields-present judges them)."""
    body = order.body
    identifiers = body.get("identifiers")
    authorizations = body.get("authorizations")
    if (not isinstance(identifiers, list) or not identifiers
            or not all(isinstance(i, dict) and isinstance(i.get("value"), str) for i in identifiers)):
        raise SetupFailed(f"the order {order.url} has no usable identifiers array")
    if not isinstance(authorizations, list) or not authorizations or not all(isinstance(u, str) for u in authorizations):
        raise SetupFailed(f"the order {order.url} has no usable authorizations array")
    if not isinstance(body.get("finalize"), str):
        raise SetupFailed(f"the order {order.url} has no finalize URL")


def order_names(order: Order) -> list[str]:
    """The order's identifier values (shape checked by require_shape)."""
    return [str(i["value"]) for i in order.body.get("identifiers", []) if isinstance(i, dict) and "value" in i]


def first_authorization(order: Order) -> str:
    urls = order.body.get("authorizations")
    if not isinstance(urls, list) or not urls or not isinstance(urls[0], str):
        raise SetupFailed(f"the order {order.url} lists no authorization URL")
    return urls[0]


def ready_order(
    ctx: CheckContext,
    account: Account | None = None,
    identifiers: list[Identifier] | None = None,
    challenge_type: str = "http-01",
) -> Order:
    """A fresh order whose authorizations are all valid: status ``ready``."""
    ctx.require_challenge_type(challenge_type)
    order = pending_order(ctx, account, identifiers)
    ctx.session.validate_order(order, challenge_type, ctx.backend)
    order.body = ctx.session.poll(order.url, order.account, lambda b: b.get("status") != "pending", "order")
    if order.status != "ready":
        raise SetupFailed(f"the order became {order.status!r} instead of ready after validation")
    return order


def invalid_order(ctx: CheckContext) -> Order:
    """A fresh order made ``invalid`` by answering its http-01 challenge with a wrong key authorization."""
    ctx.require_challenge_type("http-01")
    order = pending_order(ctx)
    url, authz = ctx.session.authorizations(order)[0]
    ctx.session.respond_to_challenge(order.account, authz, "http-01", ctx.backend,
                                     key_authz="wrong-token.wrong-thumbprint")
    ctx.session.poll(url, order.account, lambda b: b.get("status") != "pending", "authorization")
    order.body = ctx.session.poll(order.url, order.account, lambda b: b.get("status") not in ("pending", "ready"),
                                  "order")
    if order.status != "invalid":
        raise SetupFailed(f"the order became {order.status!r} instead of invalid after a failed challenge")
    return order


def current(ctx: CheckContext, order: Order, what: str = "fetch the order again") -> dict[str, Any]:
    with noting(what):
        order.body = ctx.session.fetch_json(order.url, order.account, "order")
    return order.body


def settle(ctx: CheckContext, order: Order, budget: float = 15.0) -> dict[str, Any]:
    """After an accepted finalize: poll until the order has left ``ready``/``processing``."""
    order.body = ctx.session.poll(
        order.url, order.account, lambda b: b.get("status") not in ("ready", "processing"), "order", budget
    )
    return order.body


def download(ctx: CheckContext, url: str, account: Account, accept: str | None = PEM_CHAIN) -> httpx.Response:
    headers = {"Accept": accept} if accept else {}
    with noting("download the certificate"):
        return ctx.session.post_as_get(url, account, headers=headers)


def make_custom_csr(
    san: Sequence[str] | None,
    *,
    common_name: str | None = None,
    key: CsrKey | None = None,
    extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
) -> tuple[bytes, CsrKey]:
    """A DER CSR with exactly what is asked: ``san`` None leaves out the subjectAltName extension."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name is not None else []
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subject))
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in san]), critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER), key


def dns_names(identifiers: Sequence[Identifier]) -> list[str]:
    return [i.value for i in identifiers]


def certificate_names(cert: x509.Certificate) -> set[str]:
    """Every name the certificate certifies: subjectAltName dNSName/iPAddress and subject CN (lower case)."""
    names: set[str] = set()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names.update(str(v).lower() for v in san.get_values_for_type(x509.DNSName))
        names.update(str(v) for v in san.get_values_for_type(x509.IPAddress))
    except x509.ExtensionNotFound:
        pass
    for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        names.add(str(attribute.value).lower())
    return names


def load_chain(content: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(content)
    except ValueError:
        return []


def names_issued_for(ctx: CheckContext, order: Order) -> set[str] | None:
    """The names of the end-entity certificate of a ``valid`` order, or None when there is none."""
    url = order.body.get("certificate")
    if order.status != "valid" or not isinstance(url, str):
        return None
    response = download(ctx, url, order.account)
    chain = load_chain(response.content) if response.status_code == 200 else []
    if not chain:
        raise SetupFailed(f"the order is valid but its certificate could not be downloaded "
                          f"(HTTP {response.status_code})")
    return certificate_names(chain[0])


# -- a SHA-1 signed CSR, by hand (cryptography's CSR builder refuses SHA-1) ----------------------------

_SHA1_WITH_RSA = bytes.fromhex("300d06092a864886f70d0101050500")  # AlgorithmIdentifier, OID 1.2.840.113549.1.1.5


def _der_header(data: bytes, offset: int = 0) -> tuple[int, int]:
    """(start of contents, length of contents) of the DER element at ``offset``."""
    length = data[offset + 1]
    if length < 0x80:
        return offset + 2, length
    count = length & 0x7F
    return offset + 2 + count, int.from_bytes(data[offset + 2: offset + 2 + count], "big")


def _der_tlv(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + content


def sha1_signed_csr(names: Sequence[str]) -> bytes:
    """A valid CSR for ``names`` with a 2048-bit RSA key, signed with sha1WithRSAEncryption."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der, _ = make_custom_csr(names, key=key)
    start, length = _der_header(der)
    outer = der[start:start + length]
    info_start, info_length = _der_header(outer)
    info = outer[:info_start + info_length]  # CertificationRequestInfo, tag and length included
    signature = key.sign(info, padding.PKCS1v15(), hashes.SHA1())
    return _der_tlv(0x30, info + _SHA1_WITH_RSA + _der_tlv(0x03, b"\x00" + signature))
