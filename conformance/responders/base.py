"""Common interface and helpers for ACME challenge responders.

A responder ("backend") makes a challenge answerable by the ACME server under test:
it serves the http-01 resource, the dns-01 TXT record or the tls-alpn-01 certificate.
"""

from __future__ import annotations

import abc
import base64
import hashlib
import socketserver
import threading
from dataclasses import dataclass

from conformance.netutil import StartStop

__all__ = [
    "ALL_CHALLENGE_TYPES",
    "ChallengeBackend",
    "Identifier",
    "b64url",
    "dns01_txt_value",
    "key_authorization",
]

ALL_CHALLENGE_TYPES: frozenset[str] = frozenset({"http-01", "dns-01", "tls-alpn-01"})


@dataclass(frozen=True)
class Identifier:
    """An ACME identifier (RFC 8555 §9.7.7, RFC 8738)."""

    type: str  # "dns" or "ip"
    value: str


def b64url(data: bytes) -> str:
    """base64url without padding, as used throughout ACME/JOSE (RFC 8555 §6.1)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def key_authorization(token: str, jwk_thumbprint_b64: str) -> str:
    """keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)) (RFC 8555 §8.1)."""
    return f"{token}.{jwk_thumbprint_b64}"


def dns01_txt_value(key_authorization: str) -> str:
    """TXT record value for dns-01: base64url(SHA-256(keyAuthorization)) (RFC 8555 §8.4)."""
    return b64url(hashlib.sha256(key_authorization.encode("ascii")).digest())


class ChallengeBackend(StartStop, abc.ABC):
    """Makes a challenge answerable by the server under test.

    Implementations must be thread-safe: many checks run concurrently and share one backend.
    ``start``/``stop`` are idempotent so fixtures and context managers can both call them.
    """

    supports: frozenset[str] = frozenset()

    def start(self) -> None:  # noqa: B027 - optional hook, default is a no-op
        """Bring up listeners / external processes. Idempotent."""

    def stop(self) -> None:  # noqa: B027 - optional hook, default is a no-op
        """Tear down listeners and free ports. Idempotent."""


    @abc.abstractmethod
    def add_http01(self, token: str, key_authorization: str) -> None:
        """Serve ``key_authorization`` at /.well-known/acme-challenge/<token>."""

    @abc.abstractmethod
    def remove_http01(self, token: str) -> None:
        """Stop serving the http-01 resource for ``token``."""

    @abc.abstractmethod
    def add_dns01(self, domain: str, txt_value: str) -> None:
        """Add a TXT value at _acme-challenge.<domain>.

        ``domain`` has neither the "_acme-challenge." nor a "*." prefix; several values per
        name are allowed because a wildcard and its base name share one TXT name.
        """

    @abc.abstractmethod
    def remove_dns01(self, domain: str, txt_value: str | None = None) -> None:
        """Remove one TXT value, or all values for the name when ``txt_value`` is None."""

    @abc.abstractmethod
    def add_tlsalpn01(self, identifier: Identifier, key_authorization: str) -> None:
        """Serve an acme-tls/1 certificate for ``identifier`` (RFC 8737)."""

    @abc.abstractmethod
    def remove_tlsalpn01(self, identifier: Identifier) -> None:
        """Stop serving the tls-alpn-01 certificate for ``identifier``."""


def normalize_domain(domain: str) -> str:
    """Canonical form for DNS-ish names: lower case, no trailing dot, no wildcard label.

    Wildcard authorizations are validated at the base name (RFC 8555 §8.4), so "*.x" maps to "x".
    """
    name = domain.strip().rstrip(".").lower()
    if name.startswith("*."):
        name = name[2:]
    return name


class ThreadedListener(StartStop):
    """Lifecycle of a responder that serves a socketserver from a daemon thread on loopback.

    Subclasses set ``_thread_name`` and build their server in ``_make_server``; start and stop
    are idempotent, and stop frees the port before returning.
    """

    _thread_name = "listener"

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self._requested_port = port
        self._lock = threading.Lock()
        self._server: socketserver.BaseServer | None = None
        self._thread: threading.Thread | None = None

    def _make_server(self) -> socketserver.BaseServer:
        raise NotImplementedError

    @property
    def port(self) -> int:
        """Bound port; only meaningful after start()."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} not started")
        return int(self._server.server_address[1])  # type: ignore[index]

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        with self._lock:
            if self._server is not None:
                return
            server = self._make_server()
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{self._thread_name}-{server.server_address[1]}",  # type: ignore[index]
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)

