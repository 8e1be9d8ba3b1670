"""Shared helpers of the §6 modules: hand-built JWS bodies and small request/judge shortcuts.

JwsFault breaks one member of an otherwise normal JWS. Some defects need the body built by hand
instead (two signatures, a detached payload, repeated header names, RFC 7797 unencoded
payloads, padding that is really there): :func:`raw_jws` and :func:`send_raw` do that and still
attach the decoded parts to the recorded exchange.
"""

from __future__ import annotations

from typing import Any

import httpx

from conformance.acme import Account, describe_response, problem_type
from conformance.context import CheckContext
from conformance.judge import expect_rejected
from conformance.jws import JOSE_CONTENT_TYPE, AccountKey, JwsFault, b64url, b64url_padded, json_bytes
from conformance.recorder import describing_jws, noting


def order_payload(ctx: CheckContext) -> dict[str, Any]:
    return {"identifiers": [{"type": "dns", "value": ctx.new_domain("jws")}]}


def protected_for(ctx: CheckContext, account: Account, url: str, nonce: str | None = None) -> dict[str, Any]:
    """The protected header a correct kid-signed request to ``url`` carries (with a fresh nonce)."""
    header: dict[str, Any] = {"alg": account.key.alg, "kid": account.url}
    header["nonce"] = nonce if nonce is not None else ctx.session.new_nonce()
    header["url"] = url
    return header


def fit_for_padding(data: bytes) -> bytes:
    """Append JSON whitespace until base64 of ``data`` really ends in '=' (length not a multiple of 3)."""
    while len(data) % 3 == 0:
        data += b" "
    return data


def raw_jws(
    key: AccountKey,
    protected: bytes,
    payload: bytes,
    *,
    pad: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """A flattened JWS from exact header and payload bytes; ``pad`` members keep their '='."""

    def encode(member: str, data: bytes) -> str:
        return b64url_padded(data) if member in pad else b64url(data)

    protected_b64 = encode("protected", protected)
    payload_b64 = encode("payload", payload)
    # The signature covers the encodings as sent, so a server that tolerates the padding finds a valid
    # signature and accepts: the padding stays the only defect of the request.
    signature = key.sign(f"{protected_b64}.{payload_b64}".encode("ascii"))
    return {"protected": protected_b64, "payload": payload_b64, "signature": encode("signature", signature)}


def send_raw(
    ctx: CheckContext,
    url: str,
    body: bytes,
    what: str,
    *,
    protected: dict[str, Any] | None = None,
    payload: Any = None,
    content_type: str | None = JOSE_CONTENT_TYPE,
) -> httpx.Response:
    """POST exactly ``body``; ``protected``/``payload`` describe it in the evidence."""
    headers = {"Content-Type": content_type} if content_type is not None else {}
    with noting(what), describing_jws(protected or {}, payload):
        return ctx.session.request("POST", url, content=body, headers=headers)


def broken_post(
    ctx: CheckContext,
    account: Account,
    url: str,
    payload: Any,
    fault: JwsFault,
    what: str,
    **kwargs: Any,
) -> httpx.Response:
    """A kid-signed request carrying one deliberate defect; a badNonce is not retried (it is a rejection)."""
    kwargs.setdefault("retry_bad_nonce", False)
    with noting(what):
        return ctx.session.post(url, payload, account.key, kid=account.url, fault=fault, **kwargs)


def judge_rejected(ctx: CheckContext, response: httpx.Response, what: str) -> None:
    """Any 4xx passes (the RFC names no type); the answer is noted for the report."""
    expect_rejected(response, what)
    ctx.note(f"{what}: rejected with {describe_response(response)}")


def short_type(response: httpx.Response) -> str | None:
    kind = problem_type(response)
    return kind.rsplit(":", 1)[-1] if kind else None


def body_of(jws: dict[str, Any] | str) -> bytes:
    return jws.encode("ascii") if isinstance(jws, str) else json_bytes(jws)
