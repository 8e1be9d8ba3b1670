"""The embedded acme2certifier target: start, directory, one real http-01 issuance, clean stop.

acme2certifier validates on ports 80 (http-01), 443 (tls-alpn-01) and resolves through port 53,
so these tests need root (they run inside ``unshare -n`` in CI) and skip cleanly otherwise.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conformance.context import RunContext
from conformance.harness import Harness, TargetOptions, open_harness
from conformance.responders.base import Identifier
from conformance.targets import acme2certifier as a2c
from conformance.targets.base import TargetError, TargetNotInstalled

# acme2certifier validates on the fixed ports 80/53/443: under pytest-xdist these tests share one worker.
pytestmark = pytest.mark.xdist_group("acme2certifier")

INSTALL_HINT = "pip install 'acme-conformance[acme2certifier]'"
needs_a2c = pytest.mark.skipif(a2c.installed_version() is None, reason=f"acme2certifier not installed: {INSTALL_HINT}")


def _bindable(port: int, udp: bool = False) -> bool:
    kind = socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as sock:
        if not udp:
            # Connections the server closed leave TIME_WAIT entries; those do not hold the port.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            if not udp:
                sock.listen()
        except OSError:
            return False
    return True


def _standard_ports_free() -> bool:
    return _bindable(80) and _bindable(443) and _bindable(53) and _bindable(53, udp=True)


@pytest.fixture(scope="module")
def a2c_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    if a2c.installed_version() is None:
        pytest.skip(f"acme2certifier not installed: {INSTALL_HINT}")
    if not _standard_ports_free():
        pytest.skip("needs 127.0.0.1:80/443/53 free and bindable (root, e.g. inside unshare -n)")
    with open_harness(TargetOptions(target="acme2certifier", workdir=tmp_path_factory.mktemp("a2c"))) as harness:
        yield harness


def test_not_installed_message(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(a2c, "installed_version", lambda: None)
    with pytest.raises(TargetNotInstalled) as info, open_harness(TargetOptions(target="acme2certifier", workdir=tmp_path)):
        pass
    assert INSTALL_HINT in str(info.value)
    with pytest.raises(TargetNotInstalled), a2c.EmbeddedAcme2certifier(tmp_path / "direct"):
        pass


def test_stop_frees_port_and_process(tmp_path: Path) -> None:
    if a2c.installed_version() is None:
        pytest.skip(f"acme2certifier not installed: {INSTALL_HINT}")
    server = a2c.EmbeddedAcme2certifier(tmp_path)
    with server:
        assert server.process is not None and server.process.poll() is None and server.port is not None
        port = server.port
        assert not _bindable(port)
    assert server.process.poll() is not None  # the child is gone...
    assert _bindable(port)  # ...and so is its listener
    # Key material stays in the private work folder, readable by us only.
    assert server.ca is not None and (os.stat(server.ca.issuing_key).st_mode & 0o077) == 0
    # Its database folder (in /dev/shm where available) is removed with it.
    dbfile = next(line.split(": ", 1)[1] for line in server.config_path.read_text().splitlines()
                  if line.startswith("dbfile: "))
    assert Path(dbfile).parent == tmp_path or not Path(dbfile).parent.exists()


def test_stop_after_error_inside_the_harness(tmp_path: Path) -> None:
    if a2c.installed_version() is None:
        pytest.skip(f"acme2certifier not installed: {INSTALL_HINT}")
    if not _standard_ports_free():
        pytest.skip("needs 127.0.0.1:80/443/53 free and bindable")
    with pytest.raises(RuntimeError), open_harness(TargetOptions(target="acme2certifier", workdir=tmp_path)) as harness:
        url = harness.target.directory_url
        raise RuntimeError("a check crashed")
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)
    assert _standard_ports_free()  # the responders are gone too


@needs_a2c
def test_port_80_taken_is_reported(tmp_path: Path) -> None:
    if not _standard_ports_free():
        pytest.skip("needs 127.0.0.1:80/443/53 free and bindable")
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 80))
        blocker.listen()
        with pytest.raises(TargetError) as info, open_harness(TargetOptions(target="acme2certifier", workdir=tmp_path)):
            pass
    assert "port 80" in str(info.value) and "http-01" in str(info.value)


@needs_a2c
def test_other_validation_ports_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="port 80"), open_harness(
        TargetOptions(target="acme2certifier", workdir=tmp_path, http_port=5002)
    ):
        pass


# These share one running acme2certifier (module fixture), so they come last: the tests above
# need ports 80/443/53 free.


def test_serves_directory_on_loopback(a2c_harness: Harness) -> None:
    target = a2c_harness.target
    assert target.name == "acme2certifier" and target.version == a2c.SUPPORTED_VERSION
    assert target.directory_url.startswith("http://127.0.0.1:")
    assert target.notes["http_port"] == "80" and target.notes["dns_port"] == "53" and target.notes["tls_port"] == "443"
    response = httpx.get(target.directory_url, timeout=5)
    assert response.status_code == 200
    directory = response.json()
    for resource in ("newNonce", "newAccount", "newOrder", "revokeCert"):
        assert directory[resource].startswith(f"http://127.0.0.1:{target.directory_url.split(':')[2].split('/')[0]}/")
    options = a2c_harness.run_options()
    assert set(options.challenge_types) == {"http-01", "dns-01", "tls-alpn-01"}
    assert a2c_harness.server_log is not None and a2c_harness.server_log.is_file()


def test_http01_issuance_end_to_end(a2c_harness: Harness) -> None:
    run = RunContext(a2c_harness.target, a2c_harness.backend, a2c_harness.run_options())
    try:
        session = run.session(deadline=time.monotonic() + 30)
        account = session.create_account()
        name = "a2c-e2e.acme-conformance.example"
        issuance = session.issue(account, [Identifier("dns", name)], "http-01", a2c_harness.backend)
    finally:
        run.close()
    chain = x509.load_pem_x509_certificates(issuance.chain_pem)
    leaf = chain[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [name]
    # The certificate is for the CSR's key, issued by the CA the harness generated.
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert leaf.public_key().public_bytes(*spki) == issuance.cert_key.public_key().public_bytes(*spki)
    assert "acme-conformance a2c issuing CA" in leaf.issuer.rfc4514_string()
