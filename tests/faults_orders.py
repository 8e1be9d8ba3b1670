"""Extra fault helpers for the order, finalize, certificate, access-control and security proofs.

Besides small stateful wrappers (act on the n-th matching exchange, or only after a trigger), this
holds a canned "CA that issues whatever the CSR asks for": after a finalize, the order turns valid
and its certificate is a self-signed one carrying the CSR's key and every name the CSR lists. That
is the deviation the unauthorized.csr-* checks exist to catch, and Pebble cannot be made to do it.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from faults import RequestMatch, jws_payload, path_contains, rebuild

from conformance.jws import b64url_decode

Hook = Callable[[httpx.Request, httpx.Response], httpx.Response]

FINALIZE = path_contains("/finalize-order/", "POST")
ORDER = path_contains("/my-order/", "POST")
NEW_ORDER = path_contains("/order-plz", "POST")
CERT = path_contains("/certZ/", "POST")
CANNED_CERT_PATH = "/certZ/canned-by-test"


def problem(status: int, short_type: str) -> dict[str, Any]:
    return {"type": f"urn:ietf:params:acme:error:{short_type}", "detail": "injected by the test", "status": status}


def json_response(response: httpx.Response, status: int, body: Any, headers: dict[str, str | None] | None = None
                  ) -> httpx.Response:
    content_type = "application/problem+json" if status >= 400 else "application/json"
    return rebuild(response, status=status, content=json.dumps(body).encode(),
                   headers={"Content-Type": content_type, **(headers or {})})


def nth(match: RequestMatch, n: int, hook: Hook) -> Hook:
    """Apply ``hook`` to the ``n``-th (1-based) exchange matching ``match`` only."""
    seen = {"count": 0}
    lock = threading.Lock()

    def wrapper(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not match(request):
            return response
        with lock:
            seen["count"] += 1
            hit = seen["count"] == n
        return hook(request, response) if hit else response

    return wrapper


def after(trigger: RequestMatch, hook: Hook) -> Hook:
    """Apply ``hook`` to every exchange after the first one matching ``trigger`` (not to the trigger)."""
    state = {"armed": False}

    def wrapper(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if state["armed"]:
            return hook(request, response)
        if trigger(request):
            state["armed"] = True
        return response

    return wrapper


def edit_body(match: RequestMatch, edit: Callable[[Any], Any]) -> Hook:
    """Like faults.edit_json, but ``edit`` may look at the request too: edit(body, request)."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not match(request):
            return response
        try:
            body = response.json()
        except ValueError:
            return response
        return rebuild(response, content=json.dumps(edit(body, request)).encode())

    return hook


def csr_of(request: httpx.Request) -> x509.CertificateSigningRequest | None:
    payload = jws_payload(request)
    if not isinstance(payload, dict) or not isinstance(payload.get("csr"), str):
        return None
    try:
        return x509.load_der_x509_csr(b64url_decode(payload["csr"]))
    except ValueError:
        return None


def csr_names(csr: x509.CertificateSigningRequest) -> list[str]:
    names = [str(a.value) for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [str(n) for n in san.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        pass
    return list(dict.fromkeys(names))


def self_signed_pem(names: Sequence[str], public_key: Any = None, ca: bool = False) -> bytes:
    """A certificate naming ``names`` (SAN), for ``public_key``, signed by a throw-away key."""
    signer = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64] if names else "canned")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(public_key or signer.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    return builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def issue_as_requested(extra_names: Sequence[str] = (), honour_ca: bool = False) -> Hook:
    """A CA that accepts any CSR: finalize says processing, the order turns valid, and the certificate
    names everything the CSR names (plus ``extra_names``), with cA=TRUE if asked and ``honour_ca``."""
    state: dict[str, Any] = {"pem": None}

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if FINALIZE(request):
            csr = csr_of(request)
            if csr is None:
                return response
            try:
                wants_ca = csr.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            except x509.ExtensionNotFound:
                wants_ca = False
            state["pem"] = self_signed_pem([*csr_names(csr), *extra_names], csr.public_key(),
                                           ca=honour_ca and wants_ca)
            return json_response(response, 200, {"status": "processing"})
        if state["pem"] is not None and ORDER(request):
            try:
                body = response.json()
            except ValueError:
                return response
            body["status"] = "valid"
            body["certificate"] = str(request.url.copy_with(path=CANNED_CERT_PATH))
            return json_response(response, 200, body)
        if state["pem"] is not None and request.url.path == CANNED_CERT_PATH:
            return rebuild(response, status=200, content=state["pem"],
                           headers={"Content-Type": "application/pem-certificate-chain"})
        return response

    return hook


def capture_new_orders() -> tuple[list[dict[str, Any]], Hook]:
    """A hook recording every newOrder answer (Location + body), for hooks that need the URLs later."""
    seen: list[dict[str, Any]] = []

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if NEW_ORDER(request) and response.status_code == 201:
            try:
                body = response.json()
            except ValueError:
                body = {}
            seen.append({"url": response.headers.get("Location"), "body": body})
        return response

    return seen, hook
