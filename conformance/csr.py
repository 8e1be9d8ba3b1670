"""Certificate signing requests for finalize (RFC 8555 §7.4), good ones and deliberately bad ones."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conformance.jws import b64url


def _general_name(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def make_csr(
    names: Sequence[str],
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | None = None,
    *,
    common_name: str | None = None,
) -> tuple[bytes, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey]:
    """DER CSR with ``names`` as subjectAltName entries; returns it with its private key."""
    if not names:
        raise ValueError("a CSR needs at least one name")
    key = key or ec.generate_private_key(ec.SECP256R1())
    # An empty subject is what ACME clients send: the names belong in subjectAltName (§7.4).
    subject = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)] if common_name is not None else []
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subject))
    builder = builder.add_extension(
        x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False
    )
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.DER), key


def csr_field(der: bytes) -> str:
    """The finalize payload's ``csr`` value: base64url DER without padding (RFC 8555 §7.4)."""
    return b64url(der)


def corrupt_csr_signature(der: bytes) -> bytes:
    """Flip one bit in the last byte of the CSR: that is inside the signature BIT STRING."""
    return der[:-1] + bytes([der[-1] ^ 0x01])
