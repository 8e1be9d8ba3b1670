"""tls-alpn-01 responder (RFC 8737, RFC 8738 for IP identifiers) on loopback.

Each identifier gets its own self-signed certificate carrying the critical acmeIdentifier
extension; an SNI callback swaps in the matching SSLContext during the handshake.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import socket
import socketserver
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from .base import Identifier, ThreadedListener, normalize_domain

__all__ = [
    "ACME_IDENTIFIER_OID",
    "ACME_TLS_ALPN",
    "TlsAlpnHandshake",
    "TlsAlpnResponder",
    "client_hello_alpn",
    "make_tlsalpn01_certificate",
    "tlsalpn01_server_name",
]

ACME_TLS_ALPN = "acme-tls/1"
ACME_IDENTIFIER_OID = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
HANDSHAKE_TIMEOUT = 10.0


@dataclass(frozen=True)
class TlsAlpnHandshake:
    """One handshake attempt: ``error`` is None when it completed."""

    sni: str | None
    alpn: str | None
    client: tuple[str, int]
    error: str | None = None
    # ALPN protocols the client offered in its ClientHello (None: no ALPN extension or unparseable).
    offered_alpn: tuple[str, ...] | None = None
    # For names installed with watch_after: "closed", "data" or "open" (what the client did next).
    after: str | None = None


def tlsalpn01_server_name(identifier: Identifier) -> str:
    """The SNI a validator sends: the name itself, or the reverse-DNS name for IPs (RFC 8738 §6)."""
    if identifier.type == "ip":
        return ipaddress.ip_address(identifier.value).reverse_pointer
    return normalize_domain(identifier.value)


def make_tlsalpn01_certificate(
    identifier: Identifier, key_authorization: str, key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    """Self-signed certificate per RFC 8737 §3 for ``identifier``."""
    digest = hashlib.sha256(key_authorization.encode("ascii")).digest()
    san: x509.GeneralName
    if identifier.type == "ip":
        san = x509.IPAddress(ipaddress.ip_address(identifier.value))
    else:
        san = x509.DNSName(identifier.value.rstrip(".").lower())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ACME tls-alpn-01 challenge")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        # extnValue must be the DER of an OCTET STRING (tag 0x04, length 32) wrapping the
        # digest; UnrecognizedExtension writes its value verbatim, so we add the header.
        .add_extension(x509.UnrecognizedExtension(ACME_IDENTIFIER_OID, b"\x04\x20" + digest), critical=True)
        .sign(key, hashes.SHA256())
    )


def _server_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # RFC 8737 §4 requires TLS 1.2 or later
    ctx.set_alpn_protocols([ACME_TLS_ALPN])
    ctx.num_tickets = 0  # the connection is closed right after the handshake
    return ctx


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    responder: TlsAlpnResponder


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.responder.serve_connection(self.request, self.client_address)


class TlsAlpnResponder(ThreadedListener):
    """Answers acme-tls/1 handshakes for the identifiers added with ``add``."""

    _thread_name = "tlsalpn01"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        # One key for all challenge certificates: they are throwaway and self-signed, and
        # reusing it keeps add() cheap.
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._watch: dict[str, float] = {}  # server name -> seconds to watch the client after the handshake
        self._history: list[TlsAlpnHandshake] = []
        self._local = threading.local()  # the SNI callback runs in the handshaking thread
        self._base = _server_context()
        self._base.sni_callback = self._on_sni

    # -- lifecycle ---------------------------------------------------------------------------

    def _make_server(self) -> _Server:
        server = _Server((self.host, self._requested_port), _Handler)
        server.responder = self
        return server

    # -- challenges --------------------------------------------------------------------------

    def add(self, identifier: Identifier, key_authorization: str) -> x509.Certificate:
        """Create and install the challenge certificate; returns it for inspection."""
        cert = make_tlsalpn01_certificate(identifier, key_authorization, self._key)
        ctx = _server_context()
        _load_chain(ctx, cert, self._key)
        with self._lock:
            self._contexts[tlsalpn01_server_name(identifier)] = ctx
        return cert

    def remove(self, identifier: Identifier) -> None:
        with self._lock:
            self._contexts.pop(tlsalpn01_server_name(identifier), None)
            self._watch.pop(tlsalpn01_server_name(identifier), None)

    @property
    def challenge_key(self) -> ec.EllipticCurvePrivateKey:
        """The key of the challenge certificates (for callers building their own, see ``install``)."""
        return self._key

    def install(
        self,
        server_name: str,
        cert: x509.Certificate,
        *,
        alpn: bool = True,
        watch_after: float = 0.0,
    ) -> None:
        """Serve ``cert`` (signed over ``challenge_key``) for SNI ``server_name``, e.g. a deliberately
        wrong challenge certificate. ``alpn=False`` never negotiates acme-tls/1; ``watch_after`` > 0
        waits that long after the handshake to see whether the client closes or sends data."""
        ctx = _server_context()
        if not alpn:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.num_tickets = 0
        _load_chain(ctx, cert, self._key)
        name = server_name.rstrip(".").lower()
        with self._lock:
            self._contexts[name] = ctx
            if watch_after > 0:
                self._watch[name] = watch_after
            else:
                self._watch.pop(name, None)

    def handshakes(self) -> list[TlsAlpnHandshake]:
        """Snapshot of handshake attempts (oldest first), including aborted ones."""
        with self._lock:
            return list(self._history)

    def clear_history(self) -> None:
        with self._lock:
            self._history.clear()

    # -- connection handling -----------------------------------------------------------------

    def _on_sni(
        self, sslobj: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        name = server_name.rstrip(".").lower() if server_name else None
        self._local.sni = name
        with self._lock:
            ctx = self._contexts.get(name) if name else None
        if ctx is None:
            # Unknown or missing SNI: abort rather than present some other identifier's cert.
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sslobj.context = ctx
        return None

    def serve_connection(self, sock: socket.socket, client: tuple[str, int]) -> None:
        self._local.sni = None
        sock.settimeout(HANDSHAKE_TIMEOUT)
        error: str | None = None
        alpn: str | None = None
        after: str | None = None
        offered = client_hello_alpn(_peek_client_hello(sock))
        try:
            with self._base.wrap_socket(sock, server_side=True, do_handshake_on_connect=False) as tls:
                try:
                    tls.do_handshake()
                    alpn = tls.selected_alpn_protocol()
                    with self._lock:
                        watch = self._watch.get(self._local.sni or "", 0.0)
                    if watch > 0:
                        after = _watch_client(tls, watch)
                except (OSError, ssl.SSLError) as exc:
                    error = f"{type(exc).__name__}: {exc}"
        finally:
            sock.close()
            with self._lock:
                self._history.append(
                    TlsAlpnHandshake(
                        sni=self._local.sni, alpn=alpn, client=(client[0], client[1]), error=error,
                        offered_alpn=offered, after=after,
                    )
                )


def _watch_client(tls: ssl.SSLSocket, seconds: float) -> str:
    """What the client does right after the handshake: close, send application data, or idle."""
    tls.settimeout(seconds)
    try:
        data = tls.recv(1)
    except TimeoutError:
        return "open"
    except (OSError, ssl.SSLError):
        return "closed"
    return "data" if data else "closed"


def _peek_client_hello(sock: socket.socket, limit: int = 16384) -> bytes:
    """The first TLS record, read with MSG_PEEK so the handshake still sees it."""
    data = b""
    try:
        for _ in range(50):
            data = sock.recv(limit, socket.MSG_PEEK)
            if not data:
                return b""
            if len(data) >= 5 and (len(data) >= 5 + int.from_bytes(data[3:5], "big") or len(data) >= limit):
                return data
            time.sleep(0.005)  # a ClientHello split across segments: give the rest a moment to arrive
    except OSError:
        return data
    return data


def client_hello_alpn(record: bytes) -> tuple[str, ...] | None:
    """ALPN protocol names offered in a ClientHello record (RFC 7301 §3.1); None if absent or unparseable."""
    try:
        if len(record) < 9 or record[0] != 22 or record[5] != 1:
            return None
        body = record[9 : 9 + int.from_bytes(record[6:9], "big")]
        pos = 2 + 32  # client_version, random
        pos += 1 + body[pos]  # session_id
        pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher_suites
        pos += 1 + body[pos]  # compression_methods
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            ext_type = int.from_bytes(body[pos : pos + 2], "big")
            ext_len = int.from_bytes(body[pos + 2 : pos + 4], "big")
            data = body[pos + 4 : pos + 4 + ext_len]
            pos += 4 + ext_len
            if ext_type != 16:
                continue
            names, i = [], 2
            while i < len(data):
                size = data[i]
                names.append(data[i + 1 : i + 1 + size].decode("ascii", "replace"))
                i += 1 + size
            return tuple(names)
    except IndexError:
        return None
    return None


def _load_chain(ctx: ssl.SSLContext, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    # ssl can only load certificates from files; use a private temp dir and delete at once.
    pem = cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with tempfile.TemporaryDirectory(prefix="acme-tlsalpn-") as tmp:
        path = os.path.join(tmp, "chain.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        ctx.load_cert_chain(path)
