"""Run a private acme2certifier (PyPI ``acme2certifier``) on loopback for one run.

acme2certifier is a WSGI application. Its own ``__main__`` binds 0.0.0.0:80, so we never use it:
a child process (``python -m conformance.targets.acme2certifier serve``) imports the app and
serves it with a threading ``wsgiref`` server on 127.0.0.1. A child rather than a thread because
the app keeps module-global state (config, logger, URL table, ``sys.excepthook``) that must not
leak into the tester, and because a process can always be stopped, freeing its port.

The CA is generated here (root + issuing CA, unencrypted keys, an empty CRL) and used through
``openssl_ca_handler``; the sqlite database and saved certificates live in the private work folder,
never in the report folder. Its validators are fixed to standard ports: http-01 on port 80,
tls-alpn-01 on 443, DNS (``dns_server_list``) on 53, so the harness binds our responders there.
"""

from __future__ import annotations

import argparse
import atexit
import datetime
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conformance.netutil import StartStop
from conformance.targets.base import (
    TargetError,
    TargetInfo,
    TargetNotInstalled,
    process_output_tail,
    terminate_process,
    wait_for_directory,
)

PACKAGE = "acme2certifier"
SUPPORTED_VERSION = "0.46.3"
NOT_INSTALLED_MESSAGE = (
    "acme2certifier is not installed. Install it with: pip install 'acme-conformance[acme2certifier]' "
    f"(acme2certifier {SUPPORTED_VERSION} from PyPI), or pass --directory URL to test another server."
)
WSGI_MODULE = "acme2certifier.share.acme2certifier_wsgi"
# Ports its validators use; none of them is configurable in 0.46.3 (see challenge_validators/).
VALIDATION_PORTS = {"http": 80, "dns": 53, "tls": 443}
# What it offers and what our responders can answer. dns-01 reads TXT records through
# dns_server_list (our DNS responder); tls-alpn-01 connects to port 443 of the identifier.
CHALLENGE_TYPES = ("http-01", "dns-01", "tls-alpn-01")

_STOP_GRACE = 5.0
_BACKDATE = datetime.timedelta(minutes=5)
_CA_LIFETIME = datetime.timedelta(days=30)
_PORT_FILE = "port"


def installed_version() -> str | None:
    """The installed acme2certifier's version, or None when it cannot be imported."""
    if importlib.util.find_spec(PACKAGE) is None:
        return None
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


# -- the CA it issues from ---------------------------------------------------------------------


@dataclass(frozen=True)
class LocalCa:
    root_cert: Path
    issuing_cert: Path
    issuing_key: Path
    crl: Path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _ca_cert(
    subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey,
    path_length: int, now: datetime.datetime,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    )
    return builder.sign(signer, hashes.SHA256())


def make_local_ca(directory: Path) -> LocalCa:
    """A fresh root and issuing CA (P-256, unencrypted keys) plus the issuing CA's empty CRL."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme-conformance a2c root")])
    root = _ca_cert(root_name, root_key, root_name, root_key, 1, now)
    issuing_key = ec.generate_private_key(ec.SECP256R1())
    issuing_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme-conformance a2c issuing CA")])
    issuing = _ca_cert(issuing_name, issuing_key, root_name, root_key, 0, now)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuing_name)
        .last_update(now - _BACKDATE)
        .next_update(now + _CA_LIFETIME)
        .sign(issuing_key, hashes.SHA256())
    )
    ca = LocalCa(
        root_cert=directory / "root-ca.pem",
        issuing_cert=directory / "issuing-ca.pem",
        issuing_key=directory / "issuing-ca-key.pem",
        crl=directory / "issuing-ca.crl",
    )
    ca.root_cert.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    ca.issuing_cert.write_bytes(issuing.public_bytes(serialization.Encoding.PEM))
    _write_private(ca.issuing_key, issuing_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    ca.crl.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    return ca


# -- its configuration -------------------------------------------------------------------------


def _ini(sections: Mapping[str, Mapping[str, str]]) -> str:
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key}: {value}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


def config_text(ca: LocalCa, dbfile: Path, cert_save_path: Path, dns_server: str,
                overrides: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """acme_srv.cfg for a loopback test deployment (see the package's share/acme_srv.cfg)."""
    sections: dict[str, dict[str, str]] = {
        # Its resolver: our DNS responder. dnspython queries port 53, which cannot be changed here.
        "DEFAULT": {"debug": "False", "dns_server_list": f'["{dns_server}"]'},
        "Nonce": {"nonce_check_disable": "False"},
        "CAhandler": {
            "handler_module": "acme2certifier.cahandlers.openssl_ca_handler",
            "issuing_ca_key": str(ca.issuing_key),
            "issuing_ca_cert": str(ca.issuing_cert),
            "issuing_ca_crl": str(ca.crl),
            "ca_cert_chain_list": f'["{ca.root_cert}"]',
            "cert_validity_days": "30",
            "cert_save_path": str(cert_save_path),
        },
        "DBhandler": {"handler": "wsgi", "dbfile": str(dbfile)},
        # By default 0.46.3 refuses a newAccount without "contact" (malformed); RFC 8555 §7.1.2 makes
        # contact optional and our set-up creates accounts without one. Side effect: contact values are
        # not validated at newAccount either (account updates still are).
        "Account": {"contact_check_disable": "True"},
        "Certificate": {"revocation_reason_check_disable": "False"},
        "Challenge": {
            "challenge_validation_disable": "False",
            # Our responders answer on 127.0.0.1, which is not a global address.
            "http01_block_private_ips": "False",
            "http_01_support": "True",
            "dns_01_support": "True",
            "tls_alpn_01_support": "True",
        },
        "Order": {"tnauthlist_support": "False"},
    }
    for section, values in (overrides or {}).items():
        sections.setdefault(section, {}).update(values)
    return _ini(sections)


# -- the target --------------------------------------------------------------------------------


class EmbeddedAcme2certifier(StartStop):
    """Context manager that starts acme2certifier in ``workdir`` and always stops it again."""

    def __init__(
        self,
        workdir: Path,
        *,
        dns_server: str = "127.0.0.1",
        config_overrides: Mapping[str, Mapping[str, str]] | None = None,
        start_timeout: float = 30.0,
        python: str = sys.executable,
    ) -> None:
        self.workdir = Path(workdir)
        self.dns_server = dns_server
        self.config_overrides = dict(config_overrides or {})
        self.start_timeout = start_timeout
        self.python = python
        self.log_path = self.workdir / "acme2certifier.log"
        self.config_path = self.workdir / "acme_srv.cfg"
        self.process: subprocess.Popen[bytes] | None = None
        self.info: TargetInfo | None = None
        self.port: int | None = None
        self.ca: LocalCa | None = None
        self.startup_seconds: float | None = None
        self._log_file: IO[bytes] | None = None
        self._atexit_registered = False
        self._db_tmp: Path | None = None

    def start(self) -> TargetInfo:
        if self.process is not None and self.process.poll() is None:
            raise TargetError("This acme2certifier is already running.")
        version = installed_version()
        if version is None:
            raise TargetNotInstalled(NOT_INSTALLED_MESSAGE)
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ca = make_local_ca(self.workdir / "ca")
        cert_save_path = self.workdir / "certs"
        cert_save_path.mkdir(exist_ok=True)
        self.config_path.write_text(config_text(
            self.ca, self._database_dir() / "acme_srv.db", cert_save_path, self.dns_server, self.config_overrides))
        port_file = self.workdir / _PORT_FILE
        port_file.unlink(missing_ok=True)
        self._launch(port_file)
        try:
            self.port = self._wait_for_port(port_file, started + self.start_timeout)
            directory_url = f"http://127.0.0.1:{self.port}/directory"
            wait_for_directory(directory_url, True, max(1.0, started + self.start_timeout - time.monotonic()),
                               self.process, self.log_path)
        except BaseException:
            # Includes Ctrl-C while waiting: the child is in its own session and never saw it.
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        self.info = TargetInfo(
            name="acme2certifier",
            directory_url=directory_url,
            verify=True,  # plain HTTP: there is no TLS certificate to verify
            version=version,
            notes={
                "workdir": str(self.workdir),
                "log": str(self.log_path),
                "dns_server": f"{self.dns_server}:53",
                "transport": "plain HTTP (RFC 8555 section 6.1 requires HTTPS)",
                "ca_handler": "openssl_ca_handler (local root + issuing CA)",
                "startup_seconds": f"{self.startup_seconds:.3f}",
            },
        )
        return self.info

    def stop(self) -> None:
        """Terminate the server (kill after a grace period); safe to call repeatedly."""
        try:
            terminate_process(self.process, _STOP_GRACE)
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            if self._db_tmp is not None:
                shutil.rmtree(self._db_tmp, ignore_errors=True)
                self._db_tmp = None
            if self._atexit_registered:
                atexit.unregister(self.stop)
                self._atexit_registered = False

    def _database_dir(self) -> Path:
        """A private folder for its sqlite file, in memory where the machine has /dev/shm.

        It commits (fsync) on every nonce; on tmpfs that is free, which makes a full run about a
        third faster. The folder is ours alone (mkdtemp: mode 0700) and removed by stop().
        """
        shm = Path("/dev/shm")
        if shm.is_dir() and os.access(shm, os.W_OK):
            self._db_tmp = Path(tempfile.mkdtemp(prefix="acme-conformance-a2c-", dir=shm))
            return self._db_tmp
        return self.workdir

    def root_certificates(self) -> list[str]:
        """PEM of the root it issues under (for chain checks)."""
        if self.ca is None:
            raise TargetError("acme2certifier has not been started.")
        return [self.ca.root_cert.read_text()]

    def last_output(self) -> str:
        return process_output_tail(self.process, self.log_path)

    def _launch(self, port_file: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARIABLES}
        # requests (its http-01 client) honours proxy variables: loopback traffic must never be proxied.
        env["NO_PROXY"] = env["no_proxy"] = "*"
        env["ACME_SRV_CONFIGFILE"] = str(self.config_path)
        env["PYTHONUNBUFFERED"] = "1"
        self._log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [self.python, "-m", "conformance.targets.acme2certifier", "serve", "--port-file", str(port_file),
             "--dns-server", self.dns_server],
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=self.workdir,
            start_new_session=True,  # keep terminal Ctrl-C away from it; stop() handles it
        )
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True

    def _wait_for_port(self, port_file: Path, deadline: float) -> int:
        """The child binds port 0 itself (no race for a free port) and writes the number here."""
        interval = 0.02
        while True:
            assert self.process is not None
            if port_file.exists():
                text = port_file.read_text().strip()
                if text.isdigit():
                    return int(text)
            if self.process.poll() is not None:
                raise TargetError(
                    f"acme2certifier exited with code {self.process.returncode} before it listened. "
                    f"Last output:\n{self.last_output()}"
                )
            if time.monotonic() >= deadline:
                raise TargetError(f"acme2certifier did not start listening within {self.start_timeout:g} s.")
            time.sleep(interval)
            interval = min(interval * 2, 0.2)


_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})


# -- the child process: our loopback WSGI runner -------------------------------------------------


def serialized(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """Run the app one request at a time, with the request body already read.

    Its sqlite handler (dbhandlers/wsgi_handler.py) keeps the connection in instance attributes
    and is not safe for concurrent requests: with parallel checks it answers "database is
    locked" and leaves requests hanging. acme2certifier's own wsgi ``__main__`` uses the plain,
    single-threaded WSGIServer, so one request at a time is its reference behaviour. Threads
    still accept connections and read bodies, so a slow client cannot stall the others.
    """
    import gc
    import io
    import threading

    lock = threading.Lock()

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        status: list[str] = []

        def recording_start_response(code: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        with lock:
            result = app(environ, recording_start_response)
            try:
                return list(result)  # the body is produced under the lock too
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
                if status and status[-1].startswith("5"):
                    # On a database error it returns 500 without closing its sqlite connection, whose
                    # open write transaction then locks the database ("database is locked") until the
                    # garbage collector happens to free it, tens of seconds later: every request in
                    # between fails. Collecting now confines the damage to the request that failed.
                    gc.collect()

    return application


def resolve_through(dns_server: str) -> None:
    """Make this process resolve every host name through our DNS responder, never the system's.

    acme2certifier resolves identifiers through dns_server_list, but a redirect during http-01
    validation is followed by ``requests`` with the system resolver (getaddrinfo): that lookup would
    leave loopback, and the name would not resolve to our responders. Here the machine's resolver
    is, in effect, the same loopback DNS responder as dns_server_list.
    """
    import ipaddress
    import socket

    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [dns_server]
    resolver.lifetime = 5.0
    system_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is None or name == "localhost":
            return system_getaddrinfo(host, port, *args, **kwargs)
        try:
            ipaddress.ip_address(name)
        except ValueError:
            pass
        else:
            return system_getaddrinfo(host, port, *args, **kwargs)
        try:
            answer = resolver.resolve(name.rstrip("."), "A")
        except dns.exception.DNSException as exc:
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: {exc}") from None
        results: list[Any] = []
        for record in answer:
            results.extend(system_getaddrinfo(record.address, port, *args, **kwargs))
        return results

    socket.getaddrinfo = getaddrinfo


def serve(port_file: Path, host: str = "127.0.0.1", port: int = 0, dns_server: str = "127.0.0.1") -> None:
    """Serve the acme2certifier WSGI app on ``host`` until SIGTERM."""
    import signal
    import socketserver
    from wsgiref.simple_server import WSGIServer, make_server

    if not host.startswith("127.") and host != "::1":
        raise SystemExit(f"refusing to serve on non-loopback address {host}")
    resolve_through(dns_server)

    class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True  # a hung request must not keep the process alive at shutdown
        allow_reuse_address = True

    wsgi = importlib.import_module(WSGI_MODULE)
    server = make_server(host, port, serialized(wsgi.application), server_class=ThreadingWSGIServer,
                         handler_class=wsgi.get_handler_cls())

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, terminate)
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(server.server_address[1]))
    tmp.replace(port_file)  # atomic: the parent never reads a half-written number
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.targets.acme2certifier")
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="serve acme2certifier on loopback (config: $ACME_SRV_CONFIGFILE)")
    serve_parser.add_argument("--port-file", type=Path, required=True)
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=0)
    serve_parser.add_argument("--dns-server", default="127.0.0.1", help="the only resolver this process uses")
    args = parser.parse_args(argv)
    serve(args.port_file, args.host, args.port, args.dns_server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
