"""http-01 responder (RFC 8555 §8.3): a small threaded HTTP server on loopback."""

from __future__ import annotations

from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .base import ThreadedListener

__all__ = ["CannedResponse", "Http01Request", "Http01Responder"]

CHALLENGE_PREFIX = "/.well-known/acme-challenge/"


@dataclass(frozen=True)
class Http01Request:
    """One request seen by the responder; scenarios use these to prove validation happened."""

    method: str
    path: str
    client: tuple[str, int]
    host: str | None
    status: int


@dataclass(frozen=True)
class CannedResponse:
    """A fixed answer for one path (wrong bodies, redirects, odd content types: failure-path checks)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class _Server(ThreadingHTTPServer):
    # Handler threads must not keep the process alive or block shutdown.
    daemon_threads = True
    # Let a stopped responder's port be rebound immediately (tests, restarts).
    allow_reuse_address = True
    responder: Http01Responder


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # HTTP/1.1 so validators that keep connections alive behave as with real servers.
    protocol_version = "HTTP/1.1"
    # Idle keep-alive connections must not pin handler threads forever after stop().
    timeout = 10

    def do_GET(self) -> None:  # noqa: N802 - name fixed by http.server
        self._answer(include_body=True)

    def do_HEAD(self) -> None:  # noqa: N802 - name fixed by http.server
        self._answer(include_body=False)

    def _answer(self, include_body: bool) -> None:
        responder = self.server.responder
        path = self.path.split("?", 1)[0]
        canned = responder.canned(path)
        if canned is not None:
            self._answer_canned(path, canned, include_body)
            return
        body: bytes | None = None
        if path.startswith(CHALLENGE_PREFIX):
            body = responder.lookup(path[len(CHALLENGE_PREFIX) :])
        status = 200 if body is not None else 404
        responder.record(
            Http01Request(
                method=self.command,
                path=self.path,
                client=(self.client_address[0], self.client_address[1]),
                host=self.headers.get("Host"),
                status=status,
            )
        )
        payload = body if body is not None else b"not found\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream" if body is not None else "text/plain")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if include_body:
            self.wfile.write(payload)

    def _answer_canned(self, path: str, canned: CannedResponse, include_body: bool) -> None:
        self.server.responder.record(
            Http01Request(
                method=self.command,
                path=self.path,
                client=(self.client_address[0], self.client_address[1]),
                host=self.headers.get("Host"),
                status=canned.status,
            )
        )
        self.send_response(canned.status)
        for name, value in canned.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(canned.body)))
        self.end_headers()
        if include_body:
            self.wfile.write(canned.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature fixed
        # Silence the default per-request stderr logging; history is kept in .requests().
        return


class Http01Responder(ThreadedListener):
    """Serves GET /.well-known/acme-challenge/<token> with the key authorization as body."""

    _thread_name = "http01"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._tokens: dict[str, bytes] = {}
        self._canned: dict[str, CannedResponse] = {}
        self._history: list[Http01Request] = []

    def _make_server(self) -> _Server:
        server = _Server((self.host, self._requested_port), _Handler)
        server.responder = self
        return server

    def add(self, token: str, key_authorization: str) -> None:
        with self._lock:
            self._tokens[token] = key_authorization.encode("ascii")

    def remove(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def lookup(self, token: str) -> bytes | None:
        with self._lock:
            return self._tokens.get(token)

    def add_response(
        self, path: str, status: int, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> None:
        """Answer GET/HEAD of exactly ``path`` (no query) with this response, before any token lookup."""
        with self._lock:
            self._canned[path] = CannedResponse(status, body, tuple((headers or {}).items()))

    def remove_response(self, path: str) -> None:
        with self._lock:
            self._canned.pop(path, None)

    def canned(self, path: str) -> CannedResponse | None:
        with self._lock:
            return self._canned.get(path)

    def record(self, request: Http01Request) -> None:
        with self._lock:
            self._history.append(request)

    def requests(self) -> list[Http01Request]:
        """Snapshot of the request history (oldest first)."""
        with self._lock:
            return list(self._history)

    def clear_history(self) -> None:
        with self._lock:
            self._history.clear()
