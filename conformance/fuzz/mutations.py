"""A mutation language for signed ACME requests: take a valid request, change exactly one thing.

A :class:`Mutation` is plain data (family, kind, arg) so a finding can be saved as JSON and
replayed without hypothesis. :func:`apply` turns a valid :class:`RequestPlan` into the bytes to
send, building on :class:`conformance.jws.JwsFault` for what it covers and editing the
serialized JWS for the rest (members removed, signature bytes replaced, bodies that are not a
JWS at all). Every mutation knows the requirement it breaks, the level of that requirement and
what the RFC says the server must answer; :func:`mutations_for` is the hypothesis strategy.

Mutations the RFC lets a server accept are deliberately absent: unknown top-level members
(RFC 7515 §7.2.2: "MUST be ignored"), unknown non-critical header parameters, equivalent URL
spellings (JWS-21 is only a SHOULD), and duplicate header members whose *last* value is the
correct one (RFC 7515 §4 lets a parser keep "only the lexically last duplicate member name").
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from conformance.jws import (
    JOSE_CONTENT_TYPE,
    AccountKey,
    JwsFault,
    b64url,
    b64url_decode,
    json_bytes,
    sign_request,
)
from conformance.model import Level


@dataclass(frozen=True)
class Mutation:
    family: str
    kind: str
    arg: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "kind": self.kind, "arg": self.arg}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Mutation:
        return cls(data["family"], data["kind"], data.get("arg"))

    def describe(self) -> str:
        return f"{self.family}/{self.kind}" + (f"={self.arg!r}" if self.arg is not None else "")


@dataclass
class RequestPlan:
    """A valid signed request, before mutation."""

    template: str  # new-order, new-account, account-update, challenge, finalize, authz-deactivate, fetch, revoke
    url: str
    payload: Any  # None: POST-as-GET
    key: AccountKey
    kid: str | None  # None: signed with jwk
    nonce: str
    other_urls: list[str] = field(default_factory=list)  # other server URLs, for url mutations
    foreign_kid: str | None = None  # another account's URL, for kid mutations
    spent_nonce: str | None = None  # a nonce that already appeared in a request


@dataclass
class Prepared:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    protected: dict[str, Any] | None
    payload: Any


@dataclass(frozen=True)
class Expectation:
    requirements: tuple[str, ...]
    level: Level
    statuses: frozenset[int] | None = None  # None: any 4xx
    types: frozenset[str] | None = None  # full problem type URNs, None: any problem document


_ACME = "urn:ietf:params:acme:error:"
_JSON_PAYLOAD_TEMPLATES = {"new-order", "new-account", "account-update", "challenge", "finalize",
                           "authz-deactivate", "revoke"}


def _x(reqs: str, level: str = "MUST", statuses: set[int] | None = None, types: set[str] | None = None) -> Expectation:
    return Expectation(
        tuple(reqs.split()), Level(level), frozenset(statuses) if statuses else None,
        frozenset(_ACME + t for t in types) if types else None,
    )


# (family, kind) -> what the server must do. Levels follow the catalogue entries.
EXPECTATIONS: dict[tuple[str, str], Expectation] = {
    ("protected-member", "crit-unknown"): _x("JWS-24"),
    ("protected-member", "b64-false"): _x("JWS-6"),
    ("protected-member", "duplicate-url-last-wrong"): _x("JWS-25 JWS-20"),
    ("alg", "none"): _x("JWS-8", "MUST NOT"),
    ("alg", "hs256"): _x("JWS-9", "MUST NOT"),
    ("alg", "mismatch"): _x("JWS-26"),
    ("alg", "unsupported"): _x("JWS-10"),
    ("alg", "missing"): _x("JWS-18"),
    ("key", "jwk-and-kid"): _x("JWS-14"),
    ("key", "jwk-instead-of-kid"): _x("JWS-16"),
    ("key", "kid-instead-of-jwk"): _x("JWS-15"),
    ("key", "foreign-kid"): _x("JWS-19"),
    ("key", "unknown-kid"): _x("JWS-17"),
    ("key", "no-key"): _x("JWS-18"),
    ("key", "other-jwk"): _x("JWS-19"),
    ("nonce", "missing"): _x("NONCE-12", statuses={400}, types={"badNonce"}),
    ("nonce", "never-issued"): _x("NONCE-10", statuses={400}, types={"badNonce"}),
    ("nonce", "spent"): _x("NONCE-11", statuses={400}, types={"badNonce"}),  # NONCE-14 if that request failed
    ("nonce", "bad-characters"): _x("NONCE-15", statuses={400}, types={"badNonce", "malformed"}),
    ("nonce", "unprotected-only"): _x("NONCE-16"),
    ("url", "other-url"): _x("JWS-20"),
    ("url", "number"): _x("JWS-22"),
    ("url", "missing"): _x("JWS-18"),
    ("url", "unprotected-only"): _x("JWS-22"),
    ("signature", "flip-bit"): _x("JWS-19"),
    ("signature", "empty"): _x("JWS-19"),
    ("signature", "random"): _x("JWS-19"),
    ("signature", "truncated"): _x("JWS-19"),
    ("signature", "other-key"): _x("JWS-19"),
    ("padding", "protected"): _x("GEN-5"),
    ("padding", "payload"): _x("GEN-5"),
    ("padding", "signature"): _x("GEN-5"),
    ("payload", "not-json"): _x("JWS-23", "descr."),
    ("payload", "identifiers-empty"): _x("ORD-12", "descr."),
    ("payload", "identifiers-not-array"): _x("ORD-12", "descr."),
    ("payload", "identifiers-missing"): _x("ORD-12", "descr."),
    ("payload", "identifier-value-number"): _x("ORD-12", "descr."),
    ("payload", "challenge-not-object"): _x("CH-5"),
    ("payload", "csr-missing"): _x("FIN-7", "descr."),
    ("payload", "csr-number"): _x("FIN-7", "descr."),
    ("payload", "csr-padded"): _x("FIN-7 GEN-5"),
    ("payload", "csr-standard-base64"): _x("FIN-7 GEN-5"),
    ("payload", "certificate-missing"): _x("REV-8", "descr."),
    ("payload", "certificate-garbage"): _x("REV-8", "descr."),
    ("payload", "authz-status-not-deactivated"): _x("AZD-5", "descr."),
    ("structure", "compact"): _x("JWS-2"),
    ("structure", "general"): _x("JWS-3"),
    ("structure", "two-signatures"): _x("JWS-4", "MUST NOT"),
    ("structure", "unprotected-header"): _x("JWS-5", "MUST NOT"),
    ("structure", "no-payload-member"): _x("JWS-7", "MUST NOT"),
    ("structure", "no-signature-member"): _x("JWS-18"),
    ("structure", "body-array"): _x("JWS-28", "descr."),
    ("structure", "body-empty"): _x("JWS-28", "descr."),
    ("structure", "body-not-json"): _x("JWS-28", "descr."),
    ("content-type", "application/json"): _x("JWS-1", statuses={415}),
    ("content-type", "text/plain"): _x("JWS-1", statuses={415}),
    ("content-type", "missing"): _x("JWS-1", statuses={415}),
    ("method", "GET"): _x("PAG-1", statuses={405}, types={"malformed"}),
}


def expectation(mutation: Mutation) -> Expectation:
    return EXPECTATIONS[(mutation.family, mutation.kind)]


def _kinds(family: str) -> list[str]:
    return [kind for fam, kind in EXPECTATIONS if fam == family]


def applicable(mutation: Mutation, plan: RequestPlan) -> bool:
    """Whether the mutation means something for this request (e.g. kid mutations need a kid)."""
    family, kind = mutation.family, mutation.kind
    signed_by_kid = plan.kid is not None
    if family == "key":
        if kind in ("jwk-and-kid", "jwk-instead-of-kid", "unknown-kid"):
            # revokeCert may be signed with a jwk (the certificate key), so jwk-instead-of-kid is legal there.
            return signed_by_kid and not (kind == "jwk-instead-of-kid" and plan.template == "revoke")
        if kind == "foreign-kid":
            return signed_by_kid and plan.foreign_kid is not None
        if kind in ("kid-instead-of-jwk", "other-jwk"):
            return not signed_by_kid and plan.template == "new-account" and (
                kind == "other-jwk" or plan.foreign_kid is not None
            )
        return True
    if family == "url" and kind == "other-url":
        return any(u != plan.url for u in plan.other_urls)
    if family == "protected-member" and kind == "duplicate-url-last-wrong":
        return any(u != plan.url for u in plan.other_urls)
    if family == "nonce" and kind == "spent":
        return plan.spent_nonce is not None
    if family == "padding" and kind == "payload":
        return plan.payload is not None
    if family == "payload":
        if kind == "not-json":
            return plan.template in _JSON_PAYLOAD_TEMPLATES
        prefix = {"identifiers": "new-order", "identifier": "new-order", "challenge": "challenge", "csr": "finalize",
                  "certificate": "revoke", "authz": "authz-deactivate"}
        return prefix.get(kind.split("-", 1)[0]) == plan.template
    return True


def mutations() -> st.SearchStrategy[Mutation]:
    """Every mutation (with its drawn argument); callers filter with :func:`applicable`."""
    families = sorted({fam for fam, _ in EXPECTATIONS})
    return st.sampled_from(families).flatmap(
        lambda fam: st.builds(
            Mutation, st.just(fam), st.sampled_from(_kinds(fam)), st.integers(min_value=0, max_value=2**31 - 1)
        )
    )


def _other_url(plan: RequestPlan, arg: int) -> str:
    candidates = [u for u in plan.other_urls if u != plan.url]
    return candidates[arg % len(candidates)]


def apply(mutation: Mutation, plan: RequestPlan) -> Prepared:
    """The mutated request. ``mutation.arg`` picks among candidates and seeds random bytes."""
    family, kind, arg = mutation.family, mutation.kind, int(mutation.arg or 0)
    fault = JwsFault()
    payload: Any = plan.payload
    kid: str | None = plan.kid
    key = plan.key
    nonce: str | None = plan.nonce
    headers = {"Content-Type": JOSE_CONTENT_TYPE}
    method = "POST"
    edit_jws = None  # a function editing the flattened JWS dict after signing
    raw_body: bytes | None = None

    if family == "protected-member":
        if kind == "crit-unknown":
            fault.header_set = {"crit": ["x-acme-conformance"], "x-acme-conformance": 1}
        elif kind == "b64-false":
            fault.header_set = {"b64": False, "crit": ["b64"]}
    elif family == "alg":
        if kind == "none":
            fault.header_set, fault.signature = {"alg": "none"}, b""
        elif kind == "hs256":
            fault.header_set, fault.sign_alg, fault.mac_key = {"alg": "HS256"}, "HS256", secrets.token_bytes(32)
        elif kind == "mismatch":
            others = [a for a in ("ES256", "ES384", "RS256", "EdDSA") if a != key.alg]
            fault.header_set = {"alg": others[arg % len(others)]}
        elif kind == "unsupported":
            fault.header_set = {"alg": ("ES512", "PS512", "RS512", "HS512")[arg % 4]}
        elif kind == "missing":
            fault.header_remove = ("alg",)
    elif family == "key":
        if kind == "jwk-and-kid":
            fault.add_jwk = True
        elif kind == "jwk-instead-of-kid":
            kid = None
        elif kind == "kid-instead-of-jwk":
            kid = plan.foreign_kid
        elif kind == "foreign-kid":
            kid = plan.foreign_kid
        elif kind == "unknown-kid":
            kid = (plan.kid or "") + "-unknown" + str(arg % 1000)
        elif kind == "no-key":
            fault.header_remove = ("kid", "jwk")
        elif kind == "other-jwk":
            fault.header_set = {"jwk": AccountKey.generate(key.alg if key.alg != "RS256" else "ES256").public_jwk()}
    elif family == "nonce":
        if kind == "missing":
            nonce = None
        elif kind == "never-issued":
            nonce = b64url(secrets.token_bytes(16))
        elif kind == "spent":
            nonce = plan.spent_nonce
        elif kind == "bad-characters":
            nonce = plan.nonce[:-2] + ("+/", "==", "./", " a")[arg % 4]
        elif kind == "unprotected-only":
            fault.unprotected = {"nonce": plan.nonce}
            nonce = None
    elif family == "url":
        if kind == "other-url":
            fault.header_set = {"url": _other_url(plan, arg)}
        elif kind == "number":
            fault.header_set = {"url": arg % 1000}
        elif kind == "missing":
            fault.header_remove = ("url",)
        elif kind == "unprotected-only":
            fault.header_remove = ("url",)
            fault.unprotected = {"url": plan.url}
    elif family == "signature":
        if kind == "flip-bit":
            fault.corrupt_signature = True
        elif kind == "empty":
            fault.signature = b""
        elif kind == "other-key":
            other = AccountKey.generate(key.alg if key.alg != "RS256" else "ES256")
            edit_jws = _resign_with(other)
        elif kind in ("random", "truncated"):
            edit_jws = _replace_signature(kind, arg)
    elif family == "padding":
        fault.pad = frozenset({kind})
    elif family == "payload":
        payload, raw = _payload_mutation(kind, plan.payload, arg)
        if raw is not None:
            fault.raw_payload = raw
    elif family == "structure":
        if kind in ("compact", "general"):
            fault.serialization = kind  # type: ignore[assignment]
        elif kind == "two-signatures":
            fault.serialization = "general"
            edit_jws = _duplicate_signature
        elif kind == "unprotected-header":
            fault.unprotected = {"kid": plan.kid} if plan.kid else {"x-acme-conformance": 1}
        elif kind == "no-payload-member":
            edit_jws = _drop("payload")
        elif kind == "no-signature-member":
            edit_jws = _drop("signature")
        elif kind == "body-array":
            edit_jws = _wrap_in_array
        elif kind == "body-empty":
            raw_body = b""
        elif kind == "body-not-json":
            raw_body = b'{"protected": '
    elif family == "content-type":
        if kind == "missing":
            headers = {}
        else:
            headers = {"Content-Type": kind}
    elif family == "method":
        method = kind

    if family == "protected-member" and kind == "duplicate-url-last-wrong":
        body, protected = _duplicate_url(plan, kid, nonce, payload, _other_url(plan, arg))
    else:
        signed = sign_request(key, plan.url, nonce, payload, kid=kid, fault=fault)
        body, protected = signed.body, signed.protected
        if edit_jws is not None:
            body = json_bytes(edit_jws(json.loads(body), plan))
    if raw_body is not None:
        body = raw_body
    return Prepared(method, plan.url, headers, body, protected, payload)


def changed(mutation: Mutation, plan: RequestPlan, prepared: Prepared) -> bool:
    if mutation.family in ("content-type", "method") or prepared.method != "POST":
        return True
    if mutation.family == "padding":
        # Padding only exists when the encoded length is not a multiple of 3 bytes.
        try:
            member = json.loads(prepared.body)[mutation.kind]
        except (ValueError, KeyError, TypeError):
            return True
        return isinstance(member, str) and member.endswith("=")
    return True


def _payload_mutation(kind: str, payload: Any, arg: int) -> tuple[Any, bytes | None]:
    base = dict(payload) if isinstance(payload, dict) else {}
    if kind == "not-json":
        return payload, (b"not json", b"{", b"\xff\xfe", b"[1,")[arg % 4]
    if kind == "identifiers-empty":
        return {**base, "identifiers": []}, None
    if kind == "identifiers-not-array":
        return {**base, "identifiers": ("example.test", 5, {"type": "dns"})[arg % 3]}, None
    if kind == "identifiers-missing":
        base.pop("identifiers", None)
        return base, None
    if kind == "identifier-value-number":
        return {**base, "identifiers": [{"type": "dns", "value": arg % 1000}]}, None
    if kind == "challenge-not-object":
        return None, (b"[]", b'"x"', b"5", b"null")[arg % 4]
    if kind == "csr-missing":
        base.pop("csr", None)
        return base, None
    if kind == "csr-number":
        return {**base, "csr": arg % 1000}, None
    if kind in ("csr-padded", "csr-standard-base64"):
        der = b64url_decode(str(base.get("csr", "")))
        if kind == "csr-padded":
            # A DER length that is a multiple of 3 has no padding to keep: add '==' so there is some.
            text = base64.urlsafe_b64encode(der).decode("ascii")
            text = text if text.endswith("=") else text + "=="
        else:
            text = base64.standard_b64encode(der).decode("ascii")
            text = text if any(c in text for c in "+/=") else text + "=="
        return {**base, "csr": text}, None
    if kind == "certificate-missing":
        base.pop("certificate", None)
        return base, None
    if kind == "certificate-garbage":
        return {**base, "certificate": b64url(secrets.token_bytes(32 + arg % 32))}, None
    if kind == "authz-status-not-deactivated":
        return {"status": ("valid", "pending", "revoked", "foo")[arg % 4]}, None
    raise ValueError(f"unknown payload mutation {kind}")


def _replace_signature(kind: str, arg: int) -> Any:
    def edit(jws: dict[str, Any], plan: RequestPlan) -> dict[str, Any]:
        signature = b64url_decode(jws["signature"])
        if kind == "truncated":
            signature = signature[: max(0, len(signature) - 1 - arg % 8)]
        else:
            signature = secrets.token_bytes(len(signature))
        jws["signature"] = b64url(signature)
        return jws

    return edit


def _resign_with(other: AccountKey) -> Any:
    def edit(jws: dict[str, Any], plan: RequestPlan) -> dict[str, Any]:
        signing_input = f"{jws['protected']}.{jws['payload']}".encode("ascii")
        jws["signature"] = b64url(other.sign(signing_input))
        return jws

    return edit


def _duplicate_signature(jws: dict[str, Any], plan: RequestPlan) -> dict[str, Any]:
    jws["signatures"] = jws["signatures"] * 2
    return jws


def _drop(member: str) -> Any:
    def edit(jws: dict[str, Any], plan: RequestPlan) -> dict[str, Any]:
        jws.pop(member, None)
        return jws

    return edit


def _wrap_in_array(jws: dict[str, Any], plan: RequestPlan) -> Any:
    return [jws]


def _duplicate_url(plan: RequestPlan, kid: str | None, nonce: str | None, payload: Any, wrong: str) -> tuple[bytes, dict[str, Any]]:
    """A protected header with two "url" members, the correct one first and a wrong one last."""
    members = [("alg", plan.key.alg)]
    members.append(("kid", kid) if kid is not None else ("jwk", plan.key.public_jwk()))
    if nonce is not None:
        members.append(("nonce", nonce))
    members += [("url", plan.url), ("url", wrong)]
    header_text = "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in members) + "}"
    protected_b64 = b64url(header_text.encode("utf-8"))
    payload_b64 = "" if payload is None else b64url(json_bytes(payload))
    signature = plan.key.sign(f"{protected_b64}.{payload_b64}".encode("ascii"))
    body = json_bytes({"protected": protected_b64, "payload": payload_b64, "signature": b64url(signature)})
    return body, dict(members)
