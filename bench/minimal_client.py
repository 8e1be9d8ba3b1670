"""The yardstick: a minimal hand-written ACME client on httpx doing one issuance with http-01.

No recording, no judging, no fault options, no retries: the fewest requests and the least work
that RFC 8555 allows. The benchmark compares our scenario's issuance against this.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class MinimalClient:
    def __init__(self, client: httpx.Client, directory_url: str, add_http01: Any) -> None:
        self.http = client
        self.directory = client.get(directory_url).json()
        self.add_http01 = add_http01
        self.nonce: str | None = None
        self.requests = 1

    def _sign(self, key: ec.EllipticCurvePrivateKey, url: str, payload: Any, kid: str | None) -> bytes:
        if self.nonce is None:
            self.nonce = self.http.head(self.directory["newNonce"]).headers["Replay-Nonce"]
            self.requests += 1
        protected: dict[str, Any] = {"alg": "ES256", "nonce": self.nonce, "url": url}
        if kid:
            protected["kid"] = kid
        else:
            numbers = key.public_key().public_numbers()
            protected["jwk"] = {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x.to_bytes(32, "big")),
                                "y": _b64(numbers.y.to_bytes(32, "big"))}
        p64 = _b64(json.dumps(protected).encode())
        b64 = "" if payload is None else _b64(json.dumps(payload).encode())
        r, s = decode_dss_signature(key.sign(f"{p64}.{b64}".encode(), ec.ECDSA(hashes.SHA256())))
        sig = _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        return json.dumps({"protected": p64, "payload": b64, "signature": sig}).encode()

    def post(self, key: ec.EllipticCurvePrivateKey, url: str, payload: Any, kid: str | None = None) -> httpx.Response:
        body = self._sign(key, url, payload, kid)
        response = self.http.post(url, content=body, headers={"Content-Type": "application/jose+json"})
        self.requests += 1
        self.nonce = response.headers.get("Replay-Nonce")
        return response

    def poll(self, key: ec.EllipticCurvePrivateKey, url: str, kid: str, pending: set[str]) -> dict[str, Any]:
        interval = 0.005
        while True:
            body = self.post(key, url, None, kid).json()
            if body["status"] not in pending:
                return body
            time.sleep(interval)
            interval = min(interval * 2, 1.0)

    def issue(self, domain: str) -> bytes:
        key = ec.generate_private_key(ec.SECP256R1())
        account = self.post(key, self.directory["newAccount"], {"termsOfServiceAgreed": True})
        kid = account.headers["Location"]
        order_response = self.post(key, self.directory["newOrder"], {"identifiers": [{"type": "dns", "value": domain}]}, kid)
        order_url, order = order_response.headers["Location"], order_response.json()
        jwk = json.loads(base64.urlsafe_b64decode(json.loads(self._sign(key, "x", None, None))["protected"] + "==="))["jwk"]
        thumbprint = _b64(hashlib.sha256(json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")},
                                                    separators=(",", ":")).encode()).digest())
        for authz_url in order["authorizations"]:
            authz = self.post(key, authz_url, None, kid).json()
            challenge = next(c for c in authz["challenges"] if c["type"] == "http-01")
            self.add_http01(challenge["token"], f"{challenge['token']}.{thumbprint}")
            self.post(key, challenge["url"], {}, kid)
            self.poll(key, authz_url, kid, {"pending"})
        cert_key = ec.generate_private_key(ec.SECP256R1())
        csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
               .sign(cert_key, hashes.SHA256()))
        self.poll(key, order_url, kid, {"pending"})
        self.post(key, order["finalize"], {"csr": _b64(csr.public_bytes(serialization.Encoding.DER))}, kid)
        final = self.poll(key, order_url, kid, {"ready", "processing"})
        return self.post(key, final["certificate"], None, kid).content
