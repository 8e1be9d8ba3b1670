"""Fault helpers for the §6 checks (JWS, nonces, errors): matchers on what was *sent*, and hooks
that make Pebble accept what it rejected, answer a chosen problem, or enforce nonce rules.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
from faults import RequestMatch, rebuild, replace_with

from conformance.jws import b64url_decode
from conformance.recorder import current_recorder

Hook = Callable[[httpx.Request, httpx.Response], httpx.Response]


def sent_body(request: httpx.Request) -> Any:
    """The request body as JSON, or the raw bytes when it is not JSON."""
    try:
        return json.loads(request.content)
    except (ValueError, UnicodeDecodeError):
        return request.content


def sent_header(request: httpx.Request) -> dict[str, Any] | None:
    """The decoded protected header of a flattened, general or compact JWS body."""
    body = sent_body(request)
    try:
        if isinstance(body, dict) and "protected" in body:
            encoded = body["protected"]
        elif isinstance(body, dict) and isinstance(body.get("signatures"), list):
            encoded = body["signatures"][0]["protected"]
        elif isinstance(body, bytes) and body.count(b".") == 2:
            encoded = body.split(b".")[0].decode("ascii")
        else:
            return None
        header = json.loads(b64url_decode(str(encoded).rstrip("=")))
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) else None


def jws_where(pred: Callable[[dict[str, Any]], bool], fragment: str = "") -> RequestMatch:
    """POSTs (to a path containing ``fragment``) whose protected header satisfies ``pred``."""

    def match(request: httpx.Request) -> bool:
        if request.method != "POST" or fragment not in request.url.path:
            return False
        header = sent_header(request)
        return header is not None and pred(header)

    return match


def body_where(pred: Callable[[Any], bool], fragment: str = "") -> RequestMatch:
    """POSTs whose body (JSON when it parses, else bytes) satisfies ``pred``."""
    return lambda request: request.method == "POST" and fragment in request.url.path and pred(sent_body(request))


def accept(match: RequestMatch, status: int = 201, body: Any = None) -> Hook:
    """Answer matching requests with success, as a server that skipped the check would."""
    content = body if body is not None else {"status": "valid", "identifiers": [], "authorizations": []}
    return replace_with(match, status, content, headers={"Location": "https://127.0.0.1/accepted-anyway"})


def problem(match: RequestMatch, status: int, short_type: str, **extra: Any) -> Hook:
    """Answer matching requests with a problem document of ``short_type`` (plus extra members)."""
    body = {"type": f"urn:ietf:params:acme:error:{short_type}", "detail": "injected", "status": status, **extra}
    return replace_with(match, status, body, headers={"Content-Type": "application/problem+json"})


class StrictNonces:
    """A hook that rejects (400 badNonce) any request whose nonce appeared in an earlier request.

    It repairs a server that lets a failed request's nonce be used again: the repeat gets the answer
    RFC 8555 §6.5 demands, with the fresh nonce Pebble put on the original response.
    """

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        header = sent_header(request) if request.method == "POST" else None
        nonce = header.get("nonce") if header else None
        if not isinstance(nonce, str):
            return response
        with self._lock:
            repeated = nonce in self.seen
            self.seen.add(nonce)
        if not repeated or response.status_code == 400:
            return response
        body = {"type": "urn:ietf:params:acme:error:badNonce", "detail": "injected: nonce reused", "status": 400}
        return rebuild(response, status=400, content=json.dumps(body).encode(),
                       headers={"Content-Type": "application/problem+json", "Location": None})


def in_check_only(hook: Hook) -> Hook:
    """Apply ``hook`` only to the check's own requests, not to shared set-up fixtures (e.g. the run's
    shared issuance), so a fault cannot break the set-up the check reads."""

    def wrapped(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        recorder = current_recorder()
        if recorder is None or not recorder.owner.startswith("check:"):
            return response
        return hook(request, response)

    return wrapped
