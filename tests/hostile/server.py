"""A small ACME-shaped server that misbehaves on purpose, one way per path prefix.

``/<mode>/dir`` is the directory of a server that breaks in the way ``mode`` names; everything it
links to carries the same prefix. The skeleton underneath answers just enough ACME (directory,
nonces, newAccount) for checks to get to the part that misbehaves. Responses are written as raw
bytes so the corpus can break HTTP itself (bad status lines, resets, dripping bodies).
"""

from __future__ import annotations

import itertools
import json
import secrets
import socket
import socketserver
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MARKUP = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _response(status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None, reason: str | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason or 'Whatever'}"]
    names = {name.lower() for name, _ in headers or []}
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _json(status: int, value: object, extra: list[tuple[str, str]] | None = None, ctype: str = "application/json") -> bytes:
    return _response(status, json.dumps(value).encode(), [("Content-Type", ctype), *(extra or [])])


class Skeleton:
    """Just enough ACME for the checks to reach the misbehaviour."""

    def __init__(self, base: str, mode: str) -> None:
        self.root = f"{base}/{mode}"
        self.mode = mode

    def directory(self) -> dict[str, object]:
        return {
            "newNonce": f"{self.root}/nonce", "newAccount": f"{self.root}/acct", "newOrder": f"{self.root}/order",
            "revokeCert": f"{self.root}/revoke", "keyChange": f"{self.root}/keychange",
            "meta": {"termsOfService": f"{self.root}/tos"},
        }

    def nonce_headers(self) -> list[tuple[str, str]]:
        return [("Replay-Nonce", secrets.token_urlsafe(16)), ("Cache-Control", "no-store")]

    def answer(self, request: Request, sub: str) -> bytes:
        if sub == "/dir":
            return _json(200, self.directory())
        if sub == "/nonce":
            return _response(200 if request.method == "HEAD" else 204, b"", self.nonce_headers())
        if sub == "/acct" and request.method == "POST":
            return _json(201, {"status": "valid", "orders": f"{self.root}/acct/1/orders"},
                         [("Location", f"{self.root}/acct/1"), *self.nonce_headers()])
        if sub.startswith("/acct/") and request.method == "POST":
            return _json(200, {"status": "valid", "orders": f"{self.root}/acct/1/orders"}, self.nonce_headers())
        problem = {"type": "urn:ietf:params:acme:error:malformed", "detail": "this test server implements no more"}
        return _json(400 if request.method == "POST" else 405, problem, self.nonce_headers(), "application/problem+json")


Behaviour = Callable[[Skeleton, Request, str, socket.socket], bytes | None]
MODES: dict[str, Behaviour] = {}


def mode(name: str) -> Callable[[Behaviour], Behaviour]:
    def register(func: Behaviour) -> Behaviour:
        MODES[name] = func
        return func

    return register


def on(sub: str, replacement: Callable[[Skeleton, Request], bytes], methods: tuple[str, ...] = ()) -> Behaviour:
    """Misbehave on one resource, behave elsewhere."""

    def behaviour(skeleton: Skeleton, request: Request, path: str, sock: socket.socket) -> bytes:
        if path == sub and (not methods or request.method in methods):
            return replacement(skeleton, request)
        return skeleton.answer(request, path)

    return behaviour


def everywhere(replacement: Callable[[Skeleton, Request], bytes]) -> Behaviour:
    return lambda skeleton, request, path, sock: replacement(skeleton, request)


# -- the corpus: each mode is one distinct way to be broken ------------------------------------

MODES["dir-invalid-json"] = on("/dir", lambda s, r: _response(200, b'{"newNonce": ', [("Content-Type", "application/json")]))
MODES["dir-array"] = on("/dir", lambda s, r: _json(200, [s.directory()]))
MODES["dir-null"] = on("/dir", lambda s, r: _json(200, None))
MODES["dir-wrong-types"] = on("/dir", lambda s, r: _json(200, {k: 42 for k in s.directory()}))
MODES["dir-missing-new-nonce"] = on("/dir", lambda s, r: _json(200, {k: v for k, v in s.directory().items() if k != "newNonce"}))
MODES["dir-meta-wrong-types"] = on("/dir", lambda s, r: _json(200, {**s.directory(), "meta": {"caaIdentities": "x", "website": 7}}))
MODES["dir-off-host"] = on("/dir", lambda s, r: _json(200, {k: (v.replace("127.0.0.1", "acme.example.com") if isinstance(v, str) else v)
                                                             for k, v in s.directory().items()}))
MODES["dir-html"] = on("/dir", lambda s, r: _response(200, b"<html><body>" + MARKUP.encode() + b"</body></html>",
                                                    [("Content-Type", "text/html")]))
MODES["dir-non-utf8"] = on("/dir", lambda s, r: _response(200, b'{"newNonce": "\xff\xfe\xfd"}', [("Content-Type", "application/json")]))
MODES["dir-deep-nesting"] = on("/dir", lambda s, r: _response(200, b"[" * 200_000 + b"]" * 200_000, [("Content-Type", "application/json")]))
MODES["dir-huge-body"] = on("/dir", lambda s, r: _response(200, b'{"x": "' + b"A" * (6 * 1024 * 1024) + b'"}',
                                                         [("Content-Type", "application/json")]))
MODES["dir-gzip-bomb"] = on("/dir", lambda s, r: _response(200, zlib.compress(b"\x00" * (64 * 1024 * 1024)),
                                                         [("Content-Type", "application/json"), ("Content-Encoding", "deflate")]))
MODES["dir-redirect"] = on("/dir", lambda s, r: _response(302, b"", [("Location", f"{s.root}/elsewhere")]))
MODES["dir-redirect-loop"] = on("/dir", lambda s, r: _response(301, b"", [("Location", f"{s.root}/dir")]))
MODES["dir-redirect-off-host"] = on("/dir", lambda s, r: _response(307, b"", [("Location", "https://acme.example.com/dir")]))
MODES["dir-500"] = on("/dir", lambda s, r: _response(500, b"<h1>Internal Server Error</h1>", [("Content-Type", "text/html")]))
MODES["dir-weird-status"] = on("/dir", lambda s, r: _response(299, json.dumps(s.directory()).encode(), [("Content-Type", "application/json")], "Nope"))
MODES["storm-503"] = everywhere(lambda s, r: _response(503, b"busy", [("Retry-After", "1")]))
MODES["retry-after-a-year"] = on("/acct", lambda s, r: _json(503, {"type": "urn:ietf:params:acme:error:serverInternal"},
                                                            [("Retry-After", "31536000"), *s.nonce_headers()],
                                                            "application/problem+json"), ("POST",))
MODES["nonce-missing"] = on("/nonce", lambda s, r: _response(200 if r.method == "HEAD" else 204, b"", [("Cache-Control", "no-store")]))
_STATIC_NONCE = "c3RhdGljLW5vbmNl"
MODES["nonce-never-changes"] = on("/nonce", lambda s, r: _response(200 if r.method == "HEAD" else 204, b"",
                                                                 [("Replay-Nonce", _STATIC_NONCE), ("Cache-Control", "no-store")]))
MODES["nonce-garbage"] = on("/nonce", lambda s, r: _response(200 if r.method == "HEAD" else 204, b"",
                                                           [("Replay-Nonce", MARKUP.replace(" ", "")), ("Cache-Control", "no-store")]))
MODES["nonce-get-with-body"] = on("/nonce", lambda s, r: _response(200, b"surprise", s.nonce_headers()), ("GET",))
MODES["headers-garbage"] = everywhere(lambda s, r: s.answer(r, "/dir" if r.path.endswith("/dir") else "/nonce")
                                      .replace(b"Content-Type: application/json", b"Content-Type: ;;;\r\nLink: <<<>>>;;;rel==\r\nRetry-After: soon"))
MODES["huge-header"] = on("/dir", lambda s, r: _response(200, b"{}", [("X-Filler", "A" * 200_000)]))
MODES["account-no-location"] = on("/acct", lambda s, r: _json(201, {"status": "valid"}, s.nonce_headers()), ("POST",))
MODES["account-not-object"] = on("/acct", lambda s, r: _json(201, ["valid"], [("Location", f"{s.root}/acct/1"), *s.nonce_headers()]), ("POST",))
MODES["account-wrong-types"] = on("/acct", lambda s, r: _json(201, {"status": 5, "orders": {"a": 1}, "contact": "x"},
                                                             [("Location", f"{s.root}/acct/1"), *s.nonce_headers()]), ("POST",))
MODES["account-location-off-host"] = on("/acct", lambda s, r: _json(201, {"status": "valid"},
                                                                   [("Location", "https://acme.example.com/acct/1"), *s.nonce_headers()]), ("POST",))
MODES["problem-markup"] = on("/acct", lambda s, r: _json(400, {"type": "urn:ietf:params:acme:error:malformed", "detail": MARKUP,
                                                              "subproblems": [{"type": MARKUP, "detail": MARKUP}]},
                                                         s.nonce_headers(), "application/problem+json"), ("POST",))
MODES["problem-not-json"] = on("/acct", lambda s, r: _response(400, b"<html>" + MARKUP.encode() + b"</html>",
                                                              [("Content-Type", "application/problem+json"), *s.nonce_headers()]), ("POST",))
MODES["bad-nonce-forever"] = on("/acct", lambda s, r: _json(400, {"type": "urn:ietf:params:acme:error:badNonce"},
                                                           s.nonce_headers(), "application/problem+json"), ("POST",))


@mode("reset-mid-response")
def _reset(skeleton: Skeleton, request: Request, path: str, sock: socket.socket) -> bytes | None:
    full = skeleton.answer(request, path)
    sock.sendall(full[: len(full) // 2])
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
    return None


@mode("close-without-answer")
def _close(skeleton: Skeleton, request: Request, path: str, sock: socket.socket) -> bytes | None:
    return None


@mode("endless-body")
def _endless(skeleton: Skeleton, request: Request, path: str, sock: socket.socket) -> bytes | None:
    if path != "/dir":
        return skeleton.answer(request, path)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"4000\r\n" + b" " * 0x4000 + b"\r\n"
    try:
        for _ in range(100_000):  # bounded: ~1.6 GB at most, the client gives up long before
            sock.sendall(chunk)
    except OSError:
        pass
    return None


@mode("dripping-body")
def _drip(skeleton: Skeleton, request: Request, path: str, sock: socket.socket) -> bytes | None:
    if path != "/dir":
        return skeleton.answer(request, path)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    try:
        for _ in range(400):  # bounded: one byte every 0.1 s for 40 s at most
            sock.sendall(b" ")
            time.sleep(0.1)
    except OSError:
        pass
    return None


@mode("slow-headers")
def _slow(skeleton: Skeleton, request: Request, path: str, sock: socket.socket) -> bytes | None:
    time.sleep(5)  # longer than the run's --request-timeout in the tests
    return skeleton.answer(request, path)


# -- serving ------------------------------------------------------------------------------------


class _Handler(socketserver.BaseRequestHandler):
    server: HostileServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        try:
            request = _read_request(sock)
        except (OSError, ValueError):
            return
        if request is None:
            return
        self.server.seen.append(request)
        parts = request.path.split("?", 1)[0].split("/", 2)
        mode_name = parts[1] if len(parts) > 1 else ""
        sub = "/" + parts[2] if len(parts) > 2 else "/"
        behaviour = MODES.get(mode_name)
        skeleton = Skeleton(self.server.base_url, mode_name)
        try:
            reply = behaviour(skeleton, request, sub, sock) if behaviour else skeleton.answer(request, sub)
            if reply is not None:
                sock.sendall(reply[: len(reply)] if request.method != "HEAD" else reply.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
        except OSError:
            pass


def _read_request(sock: socket.socket) -> Request | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > 1_000_000:
            raise ValueError("request too large")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path, headers, body)


class HostileServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tls_context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls_context = tls_context
        self.seen: list[Request] = []
        scheme = "https" if tls_context else "http"
        self.base_url = f"{scheme}://127.0.0.1:{self.server_address[1]}"
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def get_request(self) -> tuple[socket.socket, object]:
        sock, address = super().get_request()
        if self.tls_context is not None:
            sock = self.tls_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()

    def url(self, mode_name: str) -> str:
        return f"{self.base_url}/{mode_name}/dir"


_ids = itertools.count()


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


if __name__ == "__main__":  # manual exploration: python -m tests.hostile.server
    with HostileServer() as server:
        print("modes:", ", ".join(sorted(MODES)))
        print("try:", server.url("dir-array"))
        threading.Event().wait()
