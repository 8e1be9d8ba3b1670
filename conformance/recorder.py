"""Recording of every HTTP exchange, attributed to the check that caused it.

The recording transport wraps httpx's transport, so nothing a check sends or receives can
bypass it. Which check an exchange belongs to is found through a context variable that the
runner sets around each check (and that concurrent worker threads each hold separately).
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

# Bodies beyond this are kept truncated in the evidence; a hostile server must not make a
# report balloon (the check still sees the whole body, up to MAX_RESPONSE_BODY).
MAX_RECORDED_BODY = 64 * 1024
# No ACME response is anywhere near this big (a long certificate chain is a few KiB); reading
# stops here so an endless body cannot exhaust memory.
MAX_RESPONSE_BODY = 4 * 1024 * 1024
# A body that drips a byte at a time never trips the per-read timeout; this bounds the whole read.
BODY_DEADLINE = 15.0

_exchange_ids = itertools.count(1)


@dataclass
class Exchange:
    """One request and its response (or the transport error that replaced it)."""

    id: int
    method: str
    url: str
    request_headers: list[tuple[str, str]]
    request_body: bytes
    started: float  # wall-clock epoch seconds
    duration: float = 0.0
    status: int | None = None
    http_version: str | None = None
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""
    response_body_truncated: bool = False
    error: str | None = None
    # A JWS request's decoded protected header and payload (what the check meant to send).
    jws_protected: dict[str, Any] | None = None
    jws_payload: Any = None
    note: str | None = None  # what the check was doing, e.g. "newAccount with alg none"

    def response_header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.response_headers:
            if key.lower() == lowered:
                return value
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "note": self.note,
            "started": self.started,
            "duration": round(self.duration, 6),
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": [list(h) for h in self.request_headers],
                "body": _body_text(self.request_body),
                "jws": None
                if self.jws_protected is None
                else {"protected": self.jws_protected, "payload": self.jws_payload},
            },
            "response": None
            if self.status is None
            else {
                "status": self.status,
                "http_version": self.http_version,
                "headers": [list(h) for h in self.response_headers],
                "body": _body_text(self.response_body),
                "body_truncated": self.response_body_truncated,
            },
            "error": self.error,
        }


def _body_text(body: bytes) -> dict[str, str]:
    """Bodies as text when they are UTF-8, base64 otherwise (the report shows which)."""
    try:
        return {"encoding": "utf-8", "text": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"encoding": "base64", "text": base64.b64encode(body).decode("ascii")}


class Recorder:
    """Collects the exchanges of one check (thread-safe: a check may poll from helpers)."""

    def __init__(self, owner: str, on_exchange: Callable[[str, Exchange], None] | None = None) -> None:
        self.owner = owner
        self.exchanges: list[Exchange] = []
        self._lock = threading.Lock()
        self._on_exchange = on_exchange
        self.note: str | None = None

    def add(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)
        if self._on_exchange is not None:
            self._on_exchange(self.owner, exchange)


_current: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar("acme_recorder", default=None)
_pending_jws: contextvars.ContextVar[tuple[dict[str, Any], Any] | None] = contextvars.ContextVar(
    "acme_pending_jws", default=None
)


@contextlib.contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    token = _current.set(recorder)
    try:
        yield recorder
    finally:
        _current.reset(token)


def current_recorder() -> Recorder | None:
    return _current.get()


@contextlib.contextmanager
def describing_jws(protected: dict[str, Any], payload: Any) -> Iterator[None]:
    """Attach the decoded JWS parts to the next exchange this context sends."""
    token = _pending_jws.set((protected, payload))
    try:
        yield
    finally:
        _pending_jws.reset(token)


@contextlib.contextmanager
def noting(text: str) -> Iterator[None]:
    """Label the exchanges sent inside this block (shown in the transcript)."""
    recorder = _current.get()
    previous = recorder.note if recorder else None
    if recorder is not None:
        recorder.note = text
    try:
        yield
    finally:
        if recorder is not None:
            recorder.note = previous


ResponseHook = Callable[[httpx.Request, httpx.Response], httpx.Response]


class RecordingTransport(httpx.BaseTransport):
    """Wraps a transport; records each exchange to the current recorder.

    ``response_hook`` lets the project's tests inject faults into responses (a deviation
    layer in front of a real server); it is never set in a normal run.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport,
        response_hook: ResponseHook | None = None,
        *,
        loopback_only: bool = False,
        max_body: int = MAX_RESPONSE_BODY,
        body_deadline: float = BODY_DEADLINE,
    ) -> None:
        self._inner = inner
        self.response_hook = response_hook
        # When the target is on loopback, every URL it hands out must be too: we refuse to follow
        # one that points elsewhere rather than send a packet off the machine.
        self.loopback_only = loopback_only
        self.max_body = max_body
        self.body_deadline = body_deadline

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        recorder = _current.get()
        pending = _pending_jws.get()
        body = request.read()
        exchange = Exchange(
            id=next(_exchange_ids),
            method=request.method,
            url=str(request.url),
            request_headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw],
            request_body=body,
            started=time.time(),
            jws_protected=pending[0] if pending else None,
            jws_payload=pending[1] if pending else None,
            note=recorder.note if recorder else None,
        )
        clock = time.perf_counter()
        try:
            if self.loopback_only and not is_loopback_host(request.url.host):
                raise OffLoopbackRefused(
                    f"refused to send {request.method} {request.url}: the target is on loopback and this URL "
                    "points off loopback", request=request,
                )
            # Read the whole body here, bounded in size and time, so the timing covers it and the
            # evidence holds it.
            raw = self._inner.handle_request(request)
            # The status line arrived: keep it in the evidence even if reading the body fails.
            exchange.status = raw.status_code
            exchange.response_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw.headers.raw]
            response = self._read_bounded(raw, request)
            if self.response_hook is not None:
                response = self.response_hook(request, response)
                response.read()
        except httpx.HTTPError as exc:
            exchange.duration = time.perf_counter() - clock
            exchange.error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if recorder is not None:
                recorder.add(exchange)
            raise
        exchange.duration = time.perf_counter() - clock
        exchange.status = response.status_code
        exchange.http_version = response.extensions.get("http_version", b"").decode("ascii", "replace") or None
        exchange.response_headers = [
            (k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw
        ]
        content = response.content
        exchange.response_body = content[:MAX_RECORDED_BODY]
        exchange.response_body_truncated = len(content) > MAX_RECORDED_BODY
        response.extensions["acme_exchange_id"] = exchange.id
        if recorder is not None:
            recorder.add(exchange)
        return response

    def _read_bounded(self, response: httpx.Response, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self.body_deadline
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in response.stream:  # type: ignore[union-attr]
                total += len(chunk)
                if total > self.max_body:
                    raise httpx.ReadError(f"response body exceeds {self.max_body} bytes; reading stopped", request=request)
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(
                        f"response body still arriving after {self.body_deadline:g} s; reading stopped", request=request
                    )
                chunks.append(chunk)
        finally:
            response.close()
        body = b"".join(chunks)
        headers = httpx.Headers(response.headers)
        encoding = headers.get("Content-Encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            # We ask for identity; a server that compresses anyway is decoded here, bounded, so a
            # small compressed body cannot expand without limit (a "zip bomb").
            body = _bounded_decompress(body, encoding, self.max_body, request)
            del headers["Content-Encoding"]
            response.extensions["acme_content_encoding"] = encoding
        return httpx.Response(response.status_code, headers=headers, content=body, extensions=response.extensions)

    def close(self) -> None:
        self._inner.close()


def _bounded_decompress(data: bytes, encoding: str, limit: int, request: httpx.Request) -> bytes:
    import zlib

    wbits = 16 + zlib.MAX_WBITS if "gzip" in encoding else zlib.MAX_WBITS
    try:
        decoder = zlib.decompressobj(wbits)
        out = decoder.decompress(data, limit + 1)
    except zlib.error as exc:
        raise httpx.DecodingError(f"the {encoding} body does not decode: {exc}", request=request) from exc
    if len(out) > limit or decoder.unconsumed_tail:
        raise httpx.DecodingError(f"the {encoding} body expands beyond {limit} bytes; decoding stopped", request=request)
    return out


class OffLoopbackRefused(httpx.ConnectError):
    """A URL from a loopback target points off loopback; nothing was sent."""


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; no name is resolved (resolving could leak)."""
    import ipaddress

    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def decode_json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
