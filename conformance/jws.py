"""JWS for ACME requests (RFC 8555 §6.2, RFC 7515), correct by default and breakable on purpose.

Account keys are josepy JWKs where josepy has them (EC, RSA) and a small hand-written OKP
JWK for Ed25519, which josepy lacks. Requests are built by hand rather than through
josepy's JWS class because negative checks must be able to break any single part of the
message (alg, jwk/kid, nonce, url, signature, padding, serialization, content type).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import josepy
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

JOSE_CONTENT_TYPE = "application/jose+json"
ACCOUNT_ALGORITHMS: tuple[str, ...] = ("ES256", "ES384", "RS256", "EdDSA")

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 8555 §6.1: padding MUST be stripped)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_padded(data: bytes) -> str:
    """base64url *with* '=' padding: what the padding checks send to be rejected."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if alg == "ES384":
        return ec.generate_private_key(ec.SECP384R1())
    if alg == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unsupported account key algorithm {alg!r}; choose one of {', '.join(ACCOUNT_ALGORITHMS)}")


def algorithm_for(key: PrivateKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return {256: "ES256", 384: "ES384", 521: "ES512"}[key.curve.key_size]
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise TypeError(f"unsupported key type {type(key).__name__}")


class AccountKey:
    """A private key with its JWS algorithm, public JWK and RFC 7638 thumbprint.

    ``repr`` never shows key material: these objects end up in logs and tracebacks.
    """

    def __init__(self, private_key: PrivateKey, alg: str | None = None) -> None:
        self.private_key = private_key
        self.alg = alg or algorithm_for(private_key)
        self._jwk = self._public_jwk()
        self._thumbprint = self._compute_thumbprint()

    @classmethod
    def generate(cls, alg: str = "ES256") -> AccountKey:
        return cls(generate_private_key(alg), alg)

    def __repr__(self) -> str:
        return f"<AccountKey {self.alg} {self._thumbprint[:12]}…>"

    def _public_jwk(self) -> dict[str, str]:
        key = self.private_key
        if isinstance(key, ed25519.Ed25519PrivateKey):
            raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}
        jwk: josepy.JWK
        if isinstance(key, ec.EllipticCurvePrivateKey):
            jwk = josepy.JWKEC(key=key.public_key())
        else:
            jwk = josepy.JWKRSA(key=key.public_key())
        return {str(k): str(v) for k, v in jwk.to_partial_json().items()}

    def public_jwk(self) -> dict[str, str]:
        return dict(self._jwk)

    def _compute_thumbprint(self) -> str:
        # RFC 7638: the required members only, lexicographic order, no whitespace.
        required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"), "OKP": ("crv", "kty", "x")}
        members = {name: self._jwk[name] for name in required[self._jwk["kty"]]}
        digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
        return b64url(digest)

    def thumbprint(self) -> str:
        return self._thumbprint

    def sign(self, signing_input: bytes, alg: str | None = None) -> bytes:
        """Sign as JWS ``alg`` (default: the key's own); ECDSA signatures are raw r||s (RFC 7518 §3.4)."""
        alg = alg or self.alg
        key = self.private_key
        if isinstance(key, ec.EllipticCurvePrivateKey):
            hash_alg = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384(), "ES512": hashes.SHA512()}.get(
                alg, hashes.SHA256()
            )
            r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hash_alg)))
            size = (key.curve.key_size + 7) // 8
            return r.to_bytes(size, "big") + s.to_bytes(size, "big")
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        return key.sign(signing_input)

    def private_pem(self) -> bytes:
        """PKCS#8 PEM, for tests that must prove this material never reaches an artefact."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


Serialization = Literal["flattened", "compact", "general"]


@dataclass
class JwsFault:
    """One deliberate defect in a signed request; the default instance breaks nothing.

    Each negative check sets exactly one field, so a rejection can be attributed to it.
    """

    header_set: dict[str, Any] = field(default_factory=dict)  # add/replace protected members
    header_remove: tuple[str, ...] = ()  # drop protected members ("nonce", "url", "alg", ...)
    add_jwk: bool = False  # put "jwk" in a kid-signed request (jwk and kid together)
    sign_alg: str | None = None  # sign as this algorithm (e.g. "HS256" with mac_key)
    mac_key: bytes | None = None
    signature: bytes | None = None  # use these signature bytes as they are (b"" for alg none)
    corrupt_signature: bool = False  # flip a bit of the real signature
    pad: frozenset[str] = frozenset()  # members to encode with '=' padding: protected/payload/signature
    unprotected: dict[str, Any] | None = None  # an unprotected "header" member (RFC 8555 forbids it)
    serialization: Serialization = "flattened"
    raw_payload: bytes | None = None  # payload bytes exactly as given instead of JSON
    content_type: str | None = None  # Content-Type to send instead of application/jose+json
    omit_content_type: bool = False
    extra_members: dict[str, Any] = field(default_factory=dict)  # extra top-level JSON members

    @property
    def is_clean(self) -> bool:
        return self == JwsFault()


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    content_type: str | None
    protected: dict[str, Any]  # as sent, decoded
    payload: Any  # decoded: dict, "" for POST-as-GET, or the raw text


def make_jws(
    key: AccountKey,
    protected: Mapping[str, Any],
    payload: bytes,
    fault: JwsFault | None = None,
) -> tuple[dict[str, Any] | str, dict[str, Any]]:
    """Build a JWS (flattened/general dict, or compact string) and return it with the header sent."""
    fault = fault or JwsFault()
    header = dict(protected)
    header.update(fault.header_set)
    for name in fault.header_remove:
        header.pop(name, None)

    def encode(member: str, data: bytes) -> str:
        if member not in fault.pad:
            return b64url(data)
        if len(data) % 3 == 0 and member in ("protected", "payload") and data:
            # A length that is a multiple of 3 encodes without '='; trailing JSON whitespace keeps
            # the value the same while making the padding really appear.
            data += b" "
        return b64url_padded(data)

    protected_b64 = encode("protected", json_bytes(header))
    payload_b64 = encode("payload", payload)
    signing_input = f"{protected_b64}.{payload_b64}".encode("ascii")
    if fault.signature is not None:
        signature = fault.signature
    elif fault.sign_alg is not None and fault.sign_alg.startswith("HS"):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[fault.sign_alg]
        signature = hmac.new(fault.mac_key or b"\x00" * 32, signing_input, digest).digest()
    else:
        signature = key.sign(signing_input, fault.sign_alg)
    if fault.corrupt_signature:
        signature = bytes([signature[0] ^ 0x01]) + signature[1:]
    signature_b64 = encode("signature", signature)

    if fault.serialization == "compact":
        return f"{protected_b64}.{payload_b64}.{signature_b64}", header
    signature_part: dict[str, Any] = {"protected": protected_b64, "signature": signature_b64}
    if fault.unprotected is not None:
        signature_part["header"] = fault.unprotected
    if fault.serialization == "general":
        jws: dict[str, Any] = {"payload": payload_b64, "signatures": [signature_part]}
    else:
        jws = {"protected": protected_b64, "payload": payload_b64, "signature": signature_b64}
        if fault.unprotected is not None:
            jws["header"] = fault.unprotected
    jws.update(fault.extra_members)
    return jws, header


def sign_request(
    key: AccountKey,
    url: str,
    nonce: str | None,
    payload: Any,
    *,
    kid: str | None = None,
    fault: JwsFault | None = None,
) -> SignedRequest:
    """A complete ACME POST body: ``payload`` None means POST-as-GET (empty payload)."""
    fault = fault or JwsFault()
    protected: dict[str, Any] = {"alg": key.alg}
    if kid is not None:
        protected["kid"] = kid
        if fault.add_jwk:
            protected["jwk"] = key.public_jwk()
    else:
        protected["jwk"] = key.public_jwk()
    if nonce is not None:
        protected["nonce"] = nonce
    protected["url"] = url

    if fault.raw_payload is not None:
        payload_bytes = fault.raw_payload
        decoded: Any = fault.raw_payload.decode("utf-8", "replace")
    elif payload is None:
        payload_bytes, decoded = b"", ""
    else:
        payload_bytes, decoded = json_bytes(payload), payload

    jws, header = make_jws(key, protected, payload_bytes, fault)
    body = jws.encode("ascii") if isinstance(jws, str) else json_bytes(jws)
    content_type: str | None = None if fault.omit_content_type else (fault.content_type or JOSE_CONTENT_TYPE)
    return SignedRequest(body=body, content_type=content_type, protected=header, payload=decoded)


def mac_jws(mac_key: bytes, protected: Mapping[str, Any], payload: bytes, alg: str = "HS256") -> dict[str, Any]:
    """A MAC-protected flattened JWS, as used for external account binding (RFC 8555 §7.3.4)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header = {"alg": alg, **protected}
    protected_b64 = b64url(json_bytes(header))
    payload_b64 = b64url(payload)
    tag = hmac.new(mac_key, f"{protected_b64}.{payload_b64}".encode("ascii"), digest).digest()
    return {"protected": protected_b64, "payload": payload_b64, "signature": b64url(tag)}


def decode_protected(jws: Mapping[str, Any]) -> dict[str, Any]:
    """Decoded protected header of a flattened JWS (for evidence)."""
    value = json.loads(b64url_decode(str(jws["protected"])))
    if not isinstance(value, dict):
        raise ValueError("protected header is not a JSON object")
    return value
