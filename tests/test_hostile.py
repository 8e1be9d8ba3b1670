"""The hostile-server corpus (tests/hostile/server.py): for each misbehaviour the run ends within its
budget, the affected check reports FAIL or ERROR with evidence, unaffected checks still run, the
tool prints a readable summary and never a Python traceback, and no check dies of a harness error.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hostile.server import MODES, HostileServer, tls_context

from conformance.netutil import free_port
from conformance.tlsgen import make_test_pki

SELECTION = ["--select", "directory.*", "--select", "nonce.head-has-replay-nonce", "--select", "nonce.get-returns-204",
             "--select", "issuance.http-01"]
# A hang is a failure; the generous bound is only there so a hang ends the test instead of CI.
HANG_LIMIT = 120

DIRECTORY_BROKEN = {"FAIL"}
COULD_NOT_TEST = {"ERROR"}
# mode -> (check that must be affected, verdicts it may get); None: nothing answers, exit 3 expected.
EXPECTED: dict[str, tuple[str, set[str]] | None] = {
    "dir-invalid-json": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-array": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-null": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-html": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-non-utf8": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-deep-nesting": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-wrong-types": ("directory.has-new-nonce", DIRECTORY_BROKEN),
    "dir-missing-new-nonce": ("directory.has-new-nonce", DIRECTORY_BROKEN),
    "dir-meta-wrong-types": ("directory.meta-member-types", DIRECTORY_BROKEN),
    "dir-off-host": ("nonce.head-has-replay-nonce", COULD_NOT_TEST),
    "dir-huge-body": ("directory.get-returns-json-object", COULD_NOT_TEST),
    "dir-gzip-bomb": ("directory.get-returns-json-object", COULD_NOT_TEST),
    "endless-body": ("directory.get-returns-json-object", COULD_NOT_TEST),
    "dripping-body": ("directory.get-returns-json-object", COULD_NOT_TEST),
    "dir-redirect": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-redirect-loop": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-redirect-off-host": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-500": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "dir-weird-status": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "storm-503": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "huge-header": None,
    "headers-garbage": ("directory.get-returns-json-object", DIRECTORY_BROKEN),
    "nonce-missing": ("nonce.head-has-replay-nonce", DIRECTORY_BROKEN),
    "nonce-garbage": ("nonce.head-has-replay-nonce", DIRECTORY_BROKEN),
    "nonce-get-with-body": ("nonce.get-returns-204", DIRECTORY_BROKEN),
    "nonce-never-changes": ("issuance.http-01", COULD_NOT_TEST),
    "retry-after-a-year": ("issuance.http-01", COULD_NOT_TEST),
    "account-no-location": ("issuance.http-01", COULD_NOT_TEST),
    "account-not-object": ("issuance.http-01", COULD_NOT_TEST),
    "account-wrong-types": ("issuance.http-01", COULD_NOT_TEST),
    "account-location-off-host": ("issuance.http-01", COULD_NOT_TEST),
    "problem-markup": ("issuance.http-01", COULD_NOT_TEST),
    "problem-not-json": ("issuance.http-01", COULD_NOT_TEST),
    "bad-nonce-forever": ("issuance.http-01", COULD_NOT_TEST),
    "reset-mid-response": ("directory.get-returns-json-object", COULD_NOT_TEST),
    "close-without-answer": None,
    "slow-headers": None,
}


def test_corpus_is_complete() -> None:
    assert set(EXPECTED) == set(MODES)
    assert len(MODES) + 3 >= 30  # plus the three TLS cases below


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


def _run(directory: str, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "conformance", "run", "--directory", directory, *SELECTION, *extra,
            "--request-timeout", "2", "--timeout", "20", "--report-dir", str(run_dir),
            "--http-port", str(free_port()), "--dns-port", str(free_port(udp_too=True)), "--tls-port", str(free_port())]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=HANG_LIMIT)
    results = json.loads((run_dir / "results.json").read_text())
    return proc, results


def _assert_readable(proc: subprocess.CompletedProcess[str], results: dict) -> None:
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output[-3000:]
    assert proc.returncode in (1, 3), output[-2000:]
    crashed = [c["id"] for c in results["checks"] if c.get("traceback")]
    assert not crashed, f"harness errors (tracebacks) in {crashed}"


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_hostile_mode(hostile: HostileServer, mode: str, tmp_path: Path) -> None:
    proc, results = _run(hostile.url(mode), tmp_path)
    _assert_readable(proc, results)
    expectation = EXPECTED[mode]
    if expectation is None:
        # Nothing usable answers: the run says so (exit 3) instead of judging anything.
        assert proc.returncode == 3 and results["harness_error"], proc.stdout[-2000:]
        assert "did not answer" in results["harness_error"] or "could not" in results["harness_error"]
        return
    check_id, verdicts = expectation
    by_id = {c["id"]: c for c in results["checks"]}
    assert by_id, f"no checks ran: {results.get('harness_error')}"
    affected = by_id[check_id]
    assert affected["verdict"] in verdicts, (affected["verdict"], affected["message"])
    assert affected["exchanges"] or affected["verdict"] == "ERROR", "a FAIL must carry its evidence"
    # Unaffected checks still ran: every selected check has a verdict.
    assert {"directory.get-returns-json-object", "nonce.head-has-replay-nonce", "issuance.http-01"} <= set(by_id)


def test_off_loopback_urls_are_refused_and_reported(hostile: HostileServer, tmp_path: Path) -> None:
    proc, results = _run(hostile.url("dir-off-host"), tmp_path)
    nonce = next(c for c in results["checks"] if c["id"] == "nonce.head-has-replay-nonce")
    assert nonce["verdict"] == "ERROR" and "off loopback" in nonce["message"]
    assert not any(r.headers.get("host", "").startswith("acme.example.com") for r in hostile.seen)


def _leaf(ca_dir: Path, names: list[str], expired: bool) -> tuple[Path, Path]:
    """A leaf for ``names`` signed by a fresh CA written to ca_dir/hostile-ca.pem, optionally expired."""
    ca_dir.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile CA")])
    now = datetime.datetime.now(datetime.UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now - datetime.timedelta(days=10)).not_valid_after(now + datetime.timedelta(days=10))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    window = (now - datetime.timedelta(days=5), now - datetime.timedelta(days=1)) if expired else (now - datetime.timedelta(days=1), now + datetime.timedelta(days=1))
    leaf = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(window[0]).not_valid_after(window[1])
            .add_extension(x509.SubjectAlternativeName([_name(n) for n in names]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (ca_dir / "hostile-ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path, key_path = ca_dir / "leaf.pem", ca_dir / "leaf.key"
    cert_path.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _name(value: str) -> x509.GeneralName:
    import ipaddress

    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


@pytest.mark.parametrize("case", ["self-signed", "expired", "wrong-name"])
def test_bad_tls(case: str, tmp_path: Path) -> None:
    if case == "self-signed":
        cert, key = _leaf(tmp_path, ["127.0.0.1"], expired=False)
        bundle = make_test_pki(tmp_path / "other").ca_cert  # trusts some other CA, not the server's
    else:
        cert, key = _leaf(tmp_path, ["127.0.0.1"] if case == "expired" else ["other.example"], expired=case == "expired")
        bundle = tmp_path / "hostile-ca.pem"
    with HostileServer(tls_context(cert, key)) as server:
        proc, results = _run(server.url("fine"), tmp_path, "--ca-bundle", str(bundle))
    _assert_readable(proc, results)
    assert proc.returncode == 3 and "did not answer" in (results["harness_error"] or "")
    assert "CERTIFICATE_VERIFY_FAILED" in (results["harness_error"] or "") or "certificate" in (results["harness_error"] or "").lower()
