"""Bring up what a run needs — challenge responders and, for embedded targets, the server itself —
and take it all down again on exit, error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.jws import b64url
from conformance.netutil import free_port
from conformance.responders import BuiltinResponders, ChallTestSrvBackend, ChallTestSrvProcess, HookBackend
from conformance.responders.base import ChallengeBackend
from conformance.targets.base import TargetError, TargetInfo
from conformance.targets.external import external_target
from conformance.targets.pebble import EmbeddedPebble

BACKENDS = ("builtin", "challtestsrv", "hook")
EMBEDDED_TARGETS = ("pebble",)
# Where real ACME servers validate (RFC 8555 §8.3, §8.4, RFC 8737 §3): the defaults for external targets.
STANDARD_PORTS = {"http": 80, "dns": 53, "tls": 443}
EMBEDDED_EAB_KID = "acme-conformance-eab"


@dataclass
class TargetOptions:
    target: str = "pebble"  # embedded target name, ignored when directory is set
    directory: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False
    backend: str = "builtin"
    hook_command: list[str] = field(default_factory=list)
    challtestsrv_url: str | None = None  # an already running pebble-challtestsrv management API
    responder_host: str = "127.0.0.1"
    http_port: int | None = None
    dns_port: int | None = None
    tls_port: int | None = None
    a_address: str = "127.0.0.1"  # what the DNS responder answers for every name
    pebble_env: dict[str, str] = field(default_factory=dict)
    pebble_strict: bool = False
    pebble_config: dict[str, Any] = field(default_factory=dict)
    workdir: Path = Path("reports/.work")
    # External account binding credentials (RFC 8555 §7.3.4): (key id, HMAC key). For the embedded
    # Pebble, fresh ones are generated and configured when none are given.
    eab: tuple[str, bytes] | None = None


@dataclass
class Harness:
    target: TargetInfo
    backend: ChallengeBackend
    management: EmbeddedPebble | None = None
    eab: tuple[str, bytes] | None = None


def _port(value: int | None, kind: str, embedded: bool) -> int:
    if value is not None:
        return value
    return 0 if embedded else STANDARD_PORTS[kind]


@contextlib.contextmanager
def _backend(options: TargetOptions, embedded: bool) -> Iterator[tuple[ChallengeBackend, int, int, int]]:
    """The responder backend and the (http, dns, tls) ports the server must use to reach it."""
    if options.backend == "builtin":
        builtin = BuiltinResponders(
            host=options.responder_host,
            http_port=_port(options.http_port, "http", embedded),
            dns_port=_port(options.dns_port, "dns", embedded),
            tls_port=_port(options.tls_port, "tls", embedded),
            a_address=options.a_address,
        )
        try:
            builtin.start()
        except OSError as exc:
            raise TargetError(
                f"Cannot start the challenge responders on {options.responder_host}: {exc.strerror or exc}. "
                "Choose other ports with --http-port/--dns-port/--tls-port."
            ) from exc
        try:
            yield builtin, builtin.http_port, builtin.dns_port, builtin.tls_port
        finally:
            builtin.stop()
    elif options.backend == "challtestsrv":
        if options.challtestsrv_url:
            backend = ChallTestSrvBackend(options.challtestsrv_url)
            try:
                yield backend, options.http_port or 0, options.dns_port or 0, options.tls_port or 0
            finally:
                backend.stop()
            return
        process = ChallTestSrvProcess(
            http01_port=options.http_port or free_port(),
            dns01_port=options.dns_port or free_port(udp_too=True),
            tlsalpn01_port=options.tls_port or free_port(),
            management_port=free_port(),
            host=options.responder_host,
            default_ipv4=options.a_address,
        )
        try:
            process.start()
        except (OSError, RuntimeError) as exc:
            raise TargetError(f"Cannot start pebble-challtestsrv: {exc}") from exc
        backend = ChallTestSrvBackend(process.management_url)
        try:
            yield backend, process.http01_port, process.dns01_port, process.tlsalpn01_port
        finally:
            backend.stop()
            process.stop()
    elif options.backend == "hook":
        if not options.hook_command:
            raise TargetError("--backend hook needs --hook COMMAND")
        yield HookBackend(options.hook_command), options.http_port or 0, options.dns_port or 0, options.tls_port or 0
    else:
        raise TargetError(f"unknown responder backend {options.backend!r}; choose one of {', '.join(BACKENDS)}")


@contextlib.contextmanager
def open_harness(options: TargetOptions) -> Iterator[Harness]:
    """Responders first (the server needs their ports), then the server; torn down in reverse."""
    if options.directory is not None:
        target = external_target(options.directory, options.ca_bundle, options.insecure)
        with _backend(options, embedded=False) as (backend, http_port, dns_port, tls_port):
            target.notes.update(
                {"responders": options.backend, "http_port": str(http_port), "dns_port": str(dns_port),
                 "tls_port": str(tls_port)}
            )
            yield Harness(target=target, backend=backend, eab=options.eab)
        return
    if options.target not in EMBEDDED_TARGETS:
        raise TargetError(f"unknown target {options.target!r}; choose one of {', '.join(EMBEDDED_TARGETS)}")
    eab = options.eab or (EMBEDDED_EAB_KID, secrets.token_bytes(32))
    config = {"externalAccountMACKeys": {eab[0]: b64url(eab[1])}, **options.pebble_config}
    with _backend(options, embedded=True) as (backend, http_port, dns_port, tls_port):
        pebble = EmbeddedPebble(
            options.workdir / "pebble",
            dns_port=dns_port,
            http_port=http_port,
            tls_port=tls_port,
            env=options.pebble_env,
            config_overrides=config,
            strict=options.pebble_strict,
        )
        with pebble:
            assert pebble.info is not None
            pebble.info.notes["responders"] = options.backend
            yield Harness(target=pebble.info, backend=backend, management=pebble, eab=eab)
