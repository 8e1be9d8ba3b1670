"""dns-01 responder (RFC 8555 §8.4) plus a catch-all A resolver, on loopback UDP and TCP.

The server under test resolves every identifier through this responder, so it answers A
with a loopback address for any name: that is what lets ``*.example.com`` identifiers be
validated without any packet leaving loopback.
"""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from typing import Any

from dnslib import AAAA, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from conformance.netutil import StartStop

from .base import normalize_domain

__all__ = ["DnsQuery", "DnsResponder"]

ACME_PREFIX = "_acme-challenge."
# TTL 0: validators must never cache a TXT value across add/remove within one run.
TTL = 0


@dataclass(frozen=True)
class DnsQuery:
    """One question seen by the responder (qname without trailing dot, lower case)."""

    qname: str
    qtype: str
    protocol: str  # "udp" or "tcp"


def _name(qname: Any) -> str:
    return str(qname).rstrip(".").lower()


class _QuietLogger(DNSLogger):
    """dnslib's default logger prints every request to stdout; we keep history instead."""

    def __init__(self) -> None:
        super().__init__(log="-request,-reply,-truncated,-error", prefix=False, logf=lambda *_: None)


class _Resolver(BaseResolver):
    def __init__(self, responder: DnsResponder) -> None:
        self._responder = responder

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        return self._responder.answer(request, handler.protocol)


class DnsResponder(StartStop):
    """Authoritative-for-everything DNS server for dns-01 and for A/AAAA of identifiers."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        a_address: str | None = "127.0.0.1",
        aaaa_address: str | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        # Validate early so a typo fails at construction, not as a silent bad answer.
        self.a_address = str(ipaddress.IPv4Address(a_address)) if a_address else None
        self.aaaa_address = str(ipaddress.IPv6Address(aaaa_address)) if aaaa_address else None
        self._txt: dict[str, list[str]] = {}
        self._a: dict[str, str | None] = {}
        self._aaaa: dict[str, str | None] = {}
        self._history: list[DnsQuery] = []
        self._lock = threading.Lock()
        self._servers: list[DNSServer] = []
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """Bound port (same number for UDP and TCP); only meaningful after start()."""
        if self._port is None:
            raise RuntimeError("DnsResponder not started")
        return self._port

    @property
    def running(self) -> bool:
        return self._port is not None

    def start(self) -> None:
        with self._lock:
            if self._port is not None:
                return
            udp, tcp = self._bind_pair()
            for server in (udp, tcp):
                # Our own thread instead of start_thread(): a short poll interval makes
                # stop() (which waits for the serve loop) take ~50 ms instead of ~0.5 s.
                threading.Thread(
                    target=server.server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name=f"dns01-{server.server.server_address[1]}",
                    daemon=True,
                ).start()
            self._servers = [udp, tcp]
            self._port = int(udp.server.server_address[1])

    def _bind_pair(self, attempts: int = 50) -> tuple[DNSServer, DNSServer]:
        # Bind UDP first (port 0 lets the kernel choose), then TCP on the same number. Binding
        # both ourselves avoids the race of asking free_port() and binding later.
        resolver, logger = _Resolver(self), _QuietLogger()
        last_error: OSError | None = None
        for _ in range(attempts if self._requested_port == 0 else 1):
            udp = DNSServer(resolver, address=self.host, port=self._requested_port, logger=logger)
            port = int(udp.server.server_address[1])
            try:
                tcp = DNSServer(resolver, address=self.host, port=port, tcp=True, logger=logger)
            except OSError as exc:
                udp.server.server_close()
                last_error = exc
                continue
            return udp, tcp
        raise OSError(f"could not bind UDP+TCP on one port on {self.host}") from last_error

    def stop(self) -> None:
        with self._lock:
            servers, self._servers, self._port = self._servers, [], None
        for server in servers:
            server.server.shutdown()  # waits for the serve_forever loop to exit
            server.server.server_close()  # dnslib's stop() leaves the socket open


    # -- records -----------------------------------------------------------------------------

    def add_txt(self, domain: str, value: str) -> None:
        """Add ``value`` at _acme-challenge.<domain>.

        Kept as a multiset: two concurrent checks adding the same value each remove their own
        copy, so one check's cleanup cannot pull the record from under the other.
        """
        name = ACME_PREFIX + normalize_domain(domain)
        with self._lock:
            self._txt.setdefault(name, []).append(value)

    def remove_txt(self, domain: str, value: str | None = None) -> None:
        name = ACME_PREFIX + normalize_domain(domain)
        with self._lock:
            values = self._txt.get(name, [])
            if value is None:
                values.clear()
            elif value in values:
                values.remove(value)  # one occurrence only, see add_txt
            if not values:
                self._txt.pop(name, None)

    def set_a(self, name: str, address: str | None) -> None:
        """Override the A answer for one name; ``None`` makes that name answer with no A."""
        checked = str(ipaddress.IPv4Address(address)) if address else None
        with self._lock:
            self._a[normalize_domain(name)] = checked

    def set_aaaa(self, name: str, address: str | None) -> None:
        """Override the AAAA answer for one name; ``None`` makes that name answer with no AAAA."""
        checked = str(ipaddress.IPv6Address(address)) if address else None
        with self._lock:
            self._aaaa[normalize_domain(name)] = checked

    def clear_overrides(self) -> None:
        with self._lock:
            self._a.clear()
            self._aaaa.clear()

    def queries(self) -> list[DnsQuery]:
        """Snapshot of the query history (oldest first)."""
        with self._lock:
            return list(self._history)

    def clear_history(self) -> None:
        with self._lock:
            self._history.clear()

    # -- answering ---------------------------------------------------------------------------

    def answer(self, request: DNSRecord, protocol: str = "udp") -> DNSRecord:
        reply = request.reply()  # sets QR, AA and copies the question
        qname = request.q.qname
        name = _name(qname)
        qtype = QTYPE.get(request.q.qtype, str(request.q.qtype))
        with self._lock:
            self._history.append(DnsQuery(qname=name, qtype=qtype, protocol=protocol))
            txt = list(dict.fromkeys(self._txt.get(name, [])))  # unique, insertion order
            a = self._a.get(name, self.a_address)
            aaaa = self._aaaa.get(name, self.aaaa_address)
        # Every name "exists" (it has an A record), so a missing TXT/AAAA is NOERROR with an
        # empty answer (NODATA), never NXDOMAIN: NXDOMAIN would deny the A record too.
        if qtype == "TXT":
            for value in txt:
                reply.add_answer(RR(qname, QTYPE.TXT, rdata=TXT(value), ttl=TTL))
        elif qtype == "A" and a:
            reply.add_answer(RR(qname, QTYPE.A, rdata=A(a), ttl=TTL))
        elif qtype == "AAAA" and aaaa:
            reply.add_answer(RR(qname, QTYPE.AAAA, rdata=AAAA(aaaa), ttl=TTL))
        # CAA and everything else: empty NOERROR. No CAA means any CA may issue (RFC 8659 §4).
        reply.header.rcode = RCODE.NOERROR
        return reply
