"""Bring up what a run needs — challenge responders and, for embedded targets, the server itself —
and take it all down again on exit, error or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import errno
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance.context import RunOptions
from conformance.jws import b64url
from conformance.netutil import free_port
from conformance.responders import BuiltinResponders, ChallTestSrvBackend, ChallTestSrvProcess, HookBackend
from conformance.responders.base import ChallengeBackend
from conformance.targets import acme2certifier as a2c
from conformance.targets.base import TargetError, TargetInfo, TargetNotInstalled
from conformance.targets.external import external_target
from conformance.targets.pebble import EmbeddedPebble

BACKENDS = ("builtin", "challtestsrv", "hook")
EMBEDDED_TARGETS = ("pebble", "acme2certifier")
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
    # Pebble, fresh ones are generated and configured when none are given. repr=False: never printed.
    eab: tuple[str, bytes] | None = field(default=None, repr=False)
    # RunOptions fields a target profile sets (challenge_types, ip_identifiers, base_domain, budget, ...);
    # they win over what the harness knows about an embedded target.
    run_overrides: dict[str, Any] = field(default_factory=dict)
    # Extra notes for the run's target record (e.g. the profile's claimed features).
    notes: dict[str, str] = field(default_factory=dict)


@dataclass
class Harness:
    target: TargetInfo
    backend: ChallengeBackend
    management: EmbeddedPebble | None = None  # Pebble's management interface; None for other targets
    eab: tuple[str, bytes] | None = field(default=None, repr=False)
    server_log: Path | None = None  # log of an embedded server, copied into the run folder
    # RunOptions this target needs (what it supports, how it is reached); see run_options().
    run_overrides: dict[str, Any] = field(default_factory=dict)

    def run_options(self, **extra: Any) -> RunOptions:
        """RunOptions for a run against this target: its EAB credentials and needs, then ``extra``."""
        return RunOptions(**{"eab": self.eab, **self.run_overrides, **extra})


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
        hook = HookBackend(options.hook_command)
        try:
            yield hook, options.http_port or 0, options.dns_port or 0, options.tls_port or 0
        finally:
            hook.stop()  # a hook still running (e.g. after Ctrl-C) must not outlive the run
    else:
        raise TargetError(f"unknown responder backend {options.backend!r}; choose one of {', '.join(BACKENDS)}")


def _port_problem(host: str, port: int, udp: bool) -> str | None:
    """Why ``port`` cannot be bound on ``host`` (None when it can), to name the culprit clearly."""
    kinds = [(socket.SOCK_STREAM, "TCP")] + ([(socket.SOCK_DGRAM, "UDP")] if udp else [])
    for kind, label in kinds:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind) as sock:
            if kind == socket.SOCK_STREAM:
                # As our responders do: connections closed a moment ago (TIME_WAIT) do not hold the port,
                # only a listener does, and listen() finds that.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                if kind == socket.SOCK_STREAM:
                    sock.listen()
            except OSError as exc:
                if exc.errno == errno.EACCES:
                    return f"{label} port {port}: permission denied (ports below 1024 need root)"
                return f"{label} port {port}: {exc.strerror or exc}"
    return None


def _acme2certifier_ports(options: TargetOptions) -> TargetOptions:
    """acme2certifier validates on the standard ports only: our responders must sit exactly there."""
    wanted = a2c.VALIDATION_PORTS
    for kind, given in (("http", options.http_port), ("dns", options.dns_port), ("tls", options.tls_port)):
        if given is not None and given != wanted[kind] and options.backend != "hook":
            raise TargetError(
                f"acme2certifier {a2c.SUPPORTED_VERSION} always validates on {kind} port {wanted[kind]}; "
                f"--{kind}-port {given} cannot work with it."
            )
    if options.backend == "builtin":
        problems = [
            problem for kind in ("http", "dns", "tls")
            if (problem := _port_problem(options.responder_host, wanted[kind], udp=kind == "dns")) is not None
        ]
        if problems:
            raise TargetError(
                f"acme2certifier validates http-01 on port 80, tls-alpn-01 on port 443 and resolves names "
                f"through DNS port 53, so our responders must listen there on {options.responder_host}, but: "
                + "; ".join(problems)
                + ". Run as root (e.g. inside 'unshare -n') and stop whatever uses these ports."
            )
    return TargetOptions(**{**options.__dict__, "http_port": wanted["http"], "dns_port": wanted["dns"],
                            "tls_port": wanted["tls"]})


@contextlib.contextmanager
def _open_acme2certifier(options: TargetOptions) -> Iterator[Harness]:
    if a2c.installed_version() is None:
        raise TargetNotInstalled(a2c.NOT_INSTALLED_MESSAGE)  # before binding anything
    if options.eab is not None:
        raise TargetError("EAB credentials are not supported for the embedded acme2certifier (it runs without EAB).")
    options = _acme2certifier_ports(options)
    with _backend(options, embedded=False) as (backend, http_port, dns_port, tls_port):
        server = a2c.EmbeddedAcme2certifier(options.workdir / "acme2certifier", dns_server=options.responder_host)
        with server:
            assert server.info is not None
            server.info.notes.update({"responders": options.backend, "http_port": str(http_port),
                                      "dns_port": str(dns_port), "tls_port": str(tls_port), **options.notes})
            overrides: dict[str, Any] = {"challenge_types": a2c.CHALLENGE_TYPES, **options.run_overrides}
            yield Harness(target=server.info, backend=backend, server_log=server.log_path, run_overrides=overrides)


@contextlib.contextmanager
def open_harness(options: TargetOptions) -> Iterator[Harness]:
    """Responders first (the server needs their ports), then the server; torn down in reverse."""
    if options.directory is not None:
        target = external_target(options.directory, options.ca_bundle, options.insecure)
        with _backend(options, embedded=False) as (backend, http_port, dns_port, tls_port):
            target.notes.update(
                {"responders": options.backend, "http_port": str(http_port), "dns_port": str(dns_port),
                 "tls_port": str(tls_port), **options.notes}
            )
            yield Harness(target=target, backend=backend, eab=options.eab, run_overrides=dict(options.run_overrides))
        return
    if options.target not in EMBEDDED_TARGETS:
        raise TargetError(f"unknown target {options.target!r}; choose one of {', '.join(EMBEDDED_TARGETS)}")
    if options.target == "acme2certifier":
        with _open_acme2certifier(options) as harness:
            yield harness
        return
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
            pebble.info.notes.update({"responders": options.backend, **options.notes})
            yield Harness(target=pebble.info, backend=backend, management=pebble, eab=eab,
                          server_log=pebble.log_path, run_overrides=dict(options.run_overrides))
