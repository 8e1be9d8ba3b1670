"""Peer ACME clients from Debian (lego, acme-tiny, certbot) doing the same http-01 issuance.

Each peer serves http-01 itself (lego and certbot standalone) or from files (acme-tiny), so
each gets its own Pebble whose validation port is the port that peer serves on. Times include
the peer's process start-up: that is what a user of that client waits for.
"""

from __future__ import annotations

import http.server
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conformance.csr import make_csr
from conformance.netutil import free_port
from conformance.responders import DnsResponder
from conformance.targets.pebble import EmbeddedPebble

PeerRun = Callable[[str, str, int, Path, str], None]  # directory, ca file, http port, workdir, domain


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> None:
    result = subprocess.run(argv, env={**os.environ, **env}, cwd=cwd, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({result.returncode}): {(result.stderr or result.stdout)[-600:]}")


def run_lego(directory: str, ca: str, port: int, work: Path, domain: str) -> None:
    _run(["lego", "--server", directory, "--accept-tos", "--email", "bench@example.com", "--domains", domain,
          "--http", "--http.port", f"127.0.0.1:{port}", "--path", str(work), "--key-type", "ec256", "run"],
         {"LEGO_CA_CERTIFICATES": ca}, work)


def run_certbot(directory: str, ca: str, port: int, work: Path, domain: str) -> None:
    _run(["certbot", "certonly", "--standalone", "--non-interactive", "--agree-tos", "-m", "bench@example.com",
          "--server", directory, "-d", domain, "--http-01-port", str(port), "--http-01-address", "127.0.0.1",
          "--config-dir", str(work / "c"), "--work-dir", str(work / "w"), "--logs-dir", str(work / "l"),
          "--key-type", "ecdsa", "--no-random-sleep-on-renew"],
         {"REQUESTS_CA_BUNDLE": ca}, work)


def run_acme_tiny(directory: str, ca: str, port: int, work: Path, domain: str) -> None:
    challenges = work / "challenges"
    challenges.mkdir(exist_ok=True)
    account = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (work / "account.key").write_bytes(account.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    der, _ = make_csr([domain])
    (work / "domain.csr").write_bytes(_der_to_pem_csr(der))
    handler = partial(_QuietFiles, directory=str(challenges))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _run(["acme-tiny", "--account-key", "account.key", "--csr", "domain.csr", "--acme-dir", str(challenges),
              "--directory-url", directory, "--disable-check", "--quiet"], {"SSL_CERT_FILE": ca}, work)
    finally:
        server.shutdown()
        server.server_close()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path: str) -> str:
        # Pebble asks for /.well-known/acme-challenge/<token>; acme-tiny writes <token> into the folder.
        return super().translate_path("/" + path.rsplit("/", 1)[-1])

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


def _der_to_pem_csr(der: bytes) -> bytes:
    from cryptography import x509

    return x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM)


PEERS: dict[str, PeerRun] = {"lego": run_lego, "acme-tiny": run_acme_tiny, "certbot": run_certbot}


def time_peer(name: str, count: int) -> dict[str, Any]:
    if shutil.which(name) is None:
        return {"measured": False, "why": f"not installed (apt-get install {name})"}
    run = PEERS[name]
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, DnsResponder() as dns:
        port = free_port()
        pebble = EmbeddedPebble(Path(tmp) / "pebble", dns_port=dns.port, http_port=port, tls_port=free_port())
        with pebble:
            assert pebble.info is not None
            for index in range(count + 1):  # one warm-up
                work = Path(tmp) / f"{name}-{index}"
                work.mkdir()
                started = time.perf_counter()
                try:
                    run(pebble.info.directory_url, str(pebble.info.verify), port, work,
                        f"peer-{index}-{os.getpid()}.acme-conformance.example")
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    return {"measured": False, "why": str(exc)}
                if index:
                    times.append(time.perf_counter() - started)
    return {"measured": True, "median_seconds": round(statistics.median(times), 4), "runs": count}
