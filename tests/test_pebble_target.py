"""Embedded Pebble and external target plumbing, against the real Pebble binary."""

from __future__ import annotations

import os
import shutil
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from conformance.netutil import free_port as _free_port
from conformance.targets.base import (
    TargetError,
    TargetNotInstalled,
    TargetUnreachable,
    httpx_verify,
    wait_for_directory,
)
from conformance.targets.external import external_target
from conformance.targets.pebble import EmbeddedPebble
from conformance.tlsgen import make_test_pki

needs_pebble = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble binary not installed")


def _unused_udp_port() -> int:
    # Pebble only needs a resolver address to start; nothing has to answer on it for these tests.
    return _free_port(udp_too=True)


def _make_pebble(workdir: Path, **kwargs: object) -> EmbeddedPebble:
    return EmbeddedPebble(
        workdir,
        dns_port=_unused_udp_port(),
        http_port=_free_port(),
        tls_port=_free_port(),
        start_timeout=10.0,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def pebble(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPebble]:
    # Non-default env value so the override test needs no second Pebble start.
    instance = _make_pebble(tmp_path_factory.mktemp("pebble"), env={"PEBBLE_WFE_NONCEREJECT": "7"})
    with instance:
        yield instance


@needs_pebble
def test_directory_answers_over_verified_tls(pebble: EmbeddedPebble) -> None:
    info = pebble.info
    assert info is not None and info.name == "pebble"
    assert isinstance(info.verify, str) and info.directory_url.startswith("https://127.0.0.1:")
    response = httpx.get(info.directory_url, verify=httpx_verify(info.verify), timeout=5)
    assert response.status_code == 200
    directory = response.json()
    assert "newNonce" in directory and "newAccount" in directory and "newOrder" in directory
    nonce = httpx.head(directory["newNonce"], verify=httpx_verify(info.verify), timeout=5)
    assert nonce.headers.get("Replay-Nonce")
    # Our verify bundle really is what makes it work: the system store must not trust Pebble.
    with pytest.raises(httpx.ConnectError):
        httpx.get(info.directory_url, timeout=5)


@needs_pebble
def test_config_binds_loopback_and_uses_our_dns(pebble: EmbeddedPebble) -> None:
    config = pebble.config_path.read_text()
    assert "0.0.0.0" not in config
    assert f"127.0.0.1:{pebble.dns_port}" in pebble.log_path.read_text()


@needs_pebble
def test_management_interface_certificates(pebble: EmbeddedPebble) -> None:
    roots = pebble.root_certificates()
    intermediates = pebble.intermediate_certificates()
    assert len(roots) == 1 and len(intermediates) == 1
    root = x509.load_pem_x509_certificate(roots[0].encode())
    intermediate = x509.load_pem_x509_certificate(intermediates[0].encode())
    assert intermediate.issuer == root.subject
    with pytest.raises(TargetError, match="no certificate with serial"):
        pebble.cert_status("abcdef")


@needs_pebble
def test_env_override_reaches_pebble(pebble: EmbeddedPebble) -> None:
    log = pebble.log_path.read_text()
    assert "reject 7% of good nonces" in log
    assert "Disabling random VA sleeps" in log  # a default we did not override is still applied


@needs_pebble
def test_stop_frees_port_and_process(tmp_path: Path) -> None:
    instance = _make_pebble(tmp_path)
    info = instance.start()
    assert instance.process is not None and instance.process.poll() is None
    assert info.version  # "unknown" on 2.4.0, which has no -version flag
    port = int(info.directory_url.rsplit(":", 1)[1].split("/")[0])
    instance.stop()
    instance.stop()  # idempotent
    assert instance.process.poll() is not None
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@needs_pebble
def test_dead_process_reports_its_output(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        # Bound but not listening: Pebble's bind fails, while our probe is refused at once
        # instead of hanging in a backlog nobody accepts from.
        blocker.bind(("127.0.0.1", 0))
        taken = blocker.getsockname()[1]
        instance = _make_pebble(tmp_path, listen_port=taken)
        with pytest.raises(TargetError, match="address already in use"):
            instance.start()
    assert instance.process is not None and instance.process.poll() is not None


@needs_pebble
def test_retries_once_when_picked_port_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import conformance.targets.pebble as pebble_module

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        taken = blocker.getsockname()[1]
        picks = iter([taken])
        real_free_port = pebble_module.free_port
        # The first "free" port handed out is the one we hold, as if another process raced us to it.
        monkeypatch.setattr(
            pebble_module, "free_port", lambda *a, **k: next(picks, None) or real_free_port(*a, **k)
        )
        instance = _make_pebble(tmp_path)
        with instance:
            assert instance.info is not None
            assert f":{taken}/" not in instance.info.directory_url


def test_missing_binary(tmp_path: Path) -> None:
    instance = EmbeddedPebble(
        tmp_path, dns_port=1, http_port=2, tls_port=3, binary="no-such-pebble-binary-here"
    )
    with pytest.raises(TargetNotInstalled, match="apt-get install -y pebble"):
        instance.start()
    instance.stop()  # harmless when never started


def test_wait_for_directory_times_out() -> None:
    port = _free_port()  # nothing listens: connection refused until the deadline
    with pytest.raises(TargetUnreachable, match="did not answer within"):
        wait_for_directory(f"http://127.0.0.1:{port}/dir", True, timeout=0.3)


def test_test_pki(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path)
    assert stat.S_IMODE(os.stat(pki.key).st_mode) == 0o600
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    leaf = x509.load_pem_x509_certificate(pki.cert.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    leaf.verify_directly_issued_by(ca)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku


def _write_pem_bundle(tmp_path: Path) -> Path:
    return make_test_pki(tmp_path / "pki").ca_cert


def test_external_target_ok(tmp_path: Path) -> None:
    bundle = _write_pem_bundle(tmp_path)
    info = external_target("https://acme.test/dir", str(bundle), insecure=False)
    assert info.name == "external" and info.verify == str(bundle.resolve())
    assert external_target("https://acme.test/dir", None, insecure=True).verify is False
    assert external_target("http://acme.test/dir", None, insecure=False).verify is True


@pytest.mark.parametrize("url", ["ftp://acme.test/dir", "acme.test/dir", "https:///dir", ""])
def test_external_target_bad_url(url: str) -> None:
    with pytest.raises(TargetError, match="directory URL"):
        external_target(url, None, insecure=False)


def test_external_target_bad_bundle(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="does not exist"):
        external_target("https://acme.test/dir", str(tmp_path / "missing.pem"), insecure=False)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TargetError, match="not a PEM file"):
        external_target("https://acme.test/dir", str(garbage), insecure=False)
    with pytest.raises(TargetError, match="not both"):
        external_target("https://acme.test/dir", str(_write_pem_bundle(tmp_path)), insecure=True)
