"""In-process responders for all three challenge types, bound to loopback."""

from __future__ import annotations

from .base import ALL_CHALLENGE_TYPES, ChallengeBackend, Identifier
from .dns01 import DnsResponder
from .http01 import Http01Responder
from .tlsalpn01 import TlsAlpnResponder

__all__ = ["BuiltinResponders"]


class BuiltinResponders(ChallengeBackend):
    """HTTP, DNS and TLS-ALPN responders in this process; the default backend.

    Point the server under test at ``dns_port`` as its resolver, and at ``http_port`` /
    ``tls_port`` as its http-01 / tls-alpn-01 validation ports.
    """

    supports = ALL_CHALLENGE_TYPES

    def __init__(
        self,
        host: str = "127.0.0.1",
        http_port: int = 0,
        dns_port: int = 0,
        tls_port: int = 0,
        a_address: str | None = "127.0.0.1",
        aaaa_address: str | None = None,
    ) -> None:
        self.http = Http01Responder(host=host, port=http_port)
        self.dns = DnsResponder(host=host, port=dns_port, a_address=a_address, aaaa_address=aaaa_address)
        self.tls = TlsAlpnResponder(host=host, port=tls_port)

    @property
    def http_port(self) -> int:
        return self.http.port

    @property
    def dns_port(self) -> int:
        return self.dns.port

    @property
    def tls_port(self) -> int:
        return self.tls.port

    def start(self) -> None:
        try:
            self.http.start()
            self.dns.start()
            self.tls.start()
        except BaseException:
            # Do not leak the listeners that did come up when a later one fails to bind.
            self.stop()
            raise

    def stop(self) -> None:
        self.tls.stop()
        self.dns.stop()
        self.http.stop()

    def add_http01(self, token: str, key_authorization: str) -> None:
        self.http.add(token, key_authorization)

    def remove_http01(self, token: str) -> None:
        self.http.remove(token)

    def add_dns01(self, domain: str, txt_value: str) -> None:
        self.dns.add_txt(domain, txt_value)

    def remove_dns01(self, domain: str, txt_value: str | None = None) -> None:
        self.dns.remove_txt(domain, txt_value)

    def add_tlsalpn01(self, identifier: Identifier, key_authorization: str) -> None:
        self.tls.add(identifier, key_authorization)

    def remove_tlsalpn01(self, identifier: Identifier) -> None:
        self.tls.remove(identifier)
