"""Fail/pass proofs for the certificate-download checks (scenarios/s07_4_2_certificate.py).

The alternate-chain check needs a Pebble started with PEBBLE_ALTERNATE_ROOTS: a second one runs
for this module only.
"""

from __future__ import annotations

import base64
import datetime
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import CheckRunner, assert_verdict
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from faults import path_contains, rebuild, set_header
from faults_orders import CERT, self_signed_pem

from conformance.harness import TargetOptions, open_harness
from conformance.keypool import KeyPool
from conformance.model import Verdict
from scenarios.s07_4_2_certificate import strict_pem_problem


@pytest.fixture(scope="module")
def alternate_runner(tmp_path_factory: pytest.TempPathFactory, keypool: KeyPool) -> Iterator[CheckRunner]:
    if shutil.which("pebble") is None:
        pytest.skip("pebble binary not installed")
    workdir: Path = tmp_path_factory.mktemp("alt-roots")
    with open_harness(TargetOptions(workdir=workdir, pebble_env={"PEBBLE_ALTERNATE_ROOTS": "1"})) as harness:
        yield CheckRunner(harness, keypool)


def _pem(der: bytes) -> str:
    body = base64.b64encode(der).decode()
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(body[i:i + 64] for i in range(0, len(body), 64)) + \
        "\n-----END CERTIFICATE-----\n"


def _der() -> bytes:
    return x509.load_pem_x509_certificate(self_signed_pem(["strict.example"])).public_bytes(serialization.Encoding.DER)


def _rewrap(content: bytes, width: int) -> bytes:
    out = []
    for cert in x509.load_pem_x509_certificates(content):
        body = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        lines = [body[i:i + width] for i in range(0, len(body), width)]
        out.append("-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n")
    return "".join(out).encode()


def _on_cert(transform):  # type: ignore[no-untyped-def]
    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if CERT(request) and response.status_code == 200:
            return rebuild(response, content=transform(response.content))
        return response

    return hook


def test_strict_pem_parser() -> None:
    der = _der()
    one = _pem(der)
    assert strict_pem_problem(one.encode()) is None
    assert strict_pem_problem((one + one).encode()) is None
    assert strict_pem_problem((one + "\n" + one).encode()) is None  # the ABNF's literal blank line
    assert strict_pem_problem(one.replace("\n", "\r\n").encode()) is None
    assert "outside" in (strict_pem_problem(("Subject: CN=x\n" + one).encode()) or "")
    assert "only certificates" in (strict_pem_problem((one + "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                                                      "-----END PRIVATE KEY-----\n").encode()) or "")
    assert "line break" in (strict_pem_problem(one.rstrip("\n").encode()) or "")
    lines = one.split("\n")
    assert "strict base64" in (strict_pem_problem("\n".join([lines[0], lines[1] + " ", *lines[2:]]).encode()) or "")
    assert "after the BEGIN" in (strict_pem_problem(one.replace("-----\n", "----- \n", 1).encode()) or "")
    assert "after the last" in (strict_pem_problem((one + "\n\n").encode()) or "")
    assert "no certificate" in (strict_pem_problem(b"") or strict_pem_problem(b"\n") or "")
    wide = base64.b64encode(der).decode()
    assert "characters" in (strict_pem_problem(
        f"-----BEGIN CERTIFICATE-----\n{wide[:76]}\n{wide[76:]}\n-----END CERTIFICATE-----\n".encode()) or "")


def test_download_pem_chain(run_check: CheckRunner) -> None:
    assert_verdict(run_check("certificate.download-pem-chain"), Verdict.PASS)
    wrong_type = set_header(CERT, "Content-Type", "application/x-pem-file")
    assert_verdict(run_check("certificate.download-pem-chain", wrong_type), Verdict.WARN, "pem-certificate-chain")


def test_strict_pem(run_check: CheckRunner) -> None:
    assert_verdict(run_check("certificate.strict-pem"), Verdict.PASS)
    assert_verdict(run_check("certificate.strict-pem", _on_cert(lambda c: _rewrap(c, 76))), Verdict.FAIL, "76")
    explained = _on_cert(lambda c: b"Certificate chain for you:\n" + c)
    assert_verdict(run_check("certificate.strict-pem", explained), Verdict.FAIL, "outside")


def test_chain_links(run_check: CheckRunner) -> None:
    assert_verdict(run_check("certificate.chain-links"), Verdict.PASS)

    def reverse(content: bytes) -> bytes:
        certs = x509.load_pem_x509_certificates(content)
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in reversed(certs))

    assert_verdict(run_check("certificate.chain-links", _on_cert(reverse)), Verdict.WARN, "does not certify")

    def impostor_issuer(content: bytes) -> bytes:
        # Same subject name as the real issuer, other key: the names link but the signature does not.
        certs = x509.load_pem_x509_certificates(content)
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        name = certs[0].issuer
        impostor = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                    .serial_number(x509.random_serial_number()).not_valid_before(now)
                    .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
        return certs[0].public_bytes(serialization.Encoding.PEM) + impostor.public_bytes(serialization.Encoding.PEM)

    assert_verdict(run_check("certificate.chain-links", _on_cert(impostor_issuer)), Verdict.WARN, "signature")


def test_immutable(run_check: CheckRunner) -> None:
    assert_verdict(run_check("certificate.immutable"), Verdict.PASS)
    count = {"n": 0}
    lock = threading.Lock()

    def changes_later(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if CERT(request) and response.status_code == 200:
            with lock:
                count["n"] += 1
                later = count["n"] > 1
            if later:  # the issuing download is untouched; the re-downloads get another certificate
                return rebuild(response, content=self_signed_pem(["changed.example"]))
        return response

    assert_verdict(run_check("certificate.immutable", changes_later), Verdict.WARN, "changed")


def test_alternate_chains_absent_on_default_pebble(run_check: CheckRunner) -> None:
    assert_verdict(run_check("certificate.alternate-chains"), Verdict.SKIP)

    def dangling(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if CERT(request) and response.status_code == 200:
            return rebuild(response, headers={"Link": f'<{request.url}/alternate/1>;rel="alternate"'})
        return response

    assert_verdict(run_check("certificate.alternate-chains", dangling), Verdict.WARN, "cannot be downloaded")


def test_alternate_chains(alternate_runner: CheckRunner) -> None:
    result = alternate_runner("certificate.alternate-chains")
    assert_verdict(result, Verdict.PASS)
    assert any("alternate chain" in note for note in result.notes)
    other_leaf = _on_cert(lambda _content: self_signed_pem(["other.example"]))

    def only_alternates(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if "/alternate/" in request.url.path:
            return other_leaf(request, response)
        return response

    assert_verdict(alternate_runner("certificate.alternate-chains", only_alternates), Verdict.WARN,
                   "same end-entity")


def test_pkix_cert(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 ignores Accept: application/pkix-cert (PEM comes back): the format is OPTIONAL.
    assert_verdict(run_check("certificate.pkix-cert-format"), Verdict.SKIP)
    wants_der = path_contains("/certZ/", "POST")

    def offer_der(with_up: bool, wrong: bool = False):  # type: ignore[no-untyped-def]
        def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
            if not (wants_der(request) and request.headers.get("Accept") == "application/pkix-cert"):
                return response
            leaf = x509.load_pem_x509_certificates(response.content)[0]
            der = _der() if wrong else leaf.public_bytes(serialization.Encoding.DER)
            headers: dict[str, str | None] = {"Content-Type": "application/pkix-cert"}
            if with_up:
                headers["Link"] = f'<{request.url}/issuer>;rel="up"'
            return rebuild(response, content=der, headers=headers)

        return hook

    assert_verdict(run_check("certificate.pkix-cert-format", offer_der(with_up=True)), Verdict.PASS)
    assert_verdict(run_check("certificate.pkix-cert-format", offer_der(with_up=False)), Verdict.WARN, "rel=\"up\"")
    assert_verdict(run_check("certificate.pkix-cert-format", offer_der(with_up=True, wrong=True)), Verdict.WARN,
                   "DER")
