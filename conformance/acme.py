"""An ACME protocol session (RFC 8555): directory, nonces, accounts, orders, challenges, certificates.

Every method returns the raw httpx response (recorded as evidence by the transport), so a
check can judge exactly what the server said. The ``create_*``/``issue`` helpers are the
set-up path: they insist on success and raise :class:`SetupFailed` (verdict ERROR, "could
not test") when the server refuses, because a refused set-up step is not the deviation the
check is about.
"""

from __future__ import annotations

import collections
import email.utils
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from conformance.csr import csr_field, make_csr
from conformance.jws import AccountKey, JwsFault, b64url, json_bytes, mac_jws, make_jws, sign_request
from conformance.model import CheckTimeout, CouldNotTest
from conformance.recorder import describing_jws, noting
from conformance.responders.base import ChallengeBackend, Identifier, dns01_txt_value, key_authorization

PROBLEM_PREFIX = "urn:ietf:params:acme:error:"
PEM_CHAIN = "application/pem-certificate-chain"
# Polling: start quickly (loopback servers answer in milliseconds), back off to a ceiling.
_POLL_FIRST = 0.005
_POLL_MAX = 1.0
MAX_RETRY_AFTER = 10.0  # never wait longer than this for one Retry-After, whatever the server says


class SetupFailed(CouldNotTest):
    """A set-up step the check depends on did not succeed."""


def problem_type(response: httpx.Response) -> str | None:
    """The problem document's ``type``, if the body is one."""
    body = json_or_none(response)
    if isinstance(body, dict) and isinstance(body.get("type"), str):
        return str(body["type"])
    return None


def json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
        return None


def describe_response(response: httpx.Response) -> str:
    """Short, one-line summary for messages: status, problem type and detail."""
    text = f"HTTP {response.status_code}"
    body = json_or_none(response)
    if isinstance(body, dict) and "type" in body:
        text += f" {body.get('type')}"
        if body.get("detail"):
            text += f" ({str(body.get('detail'))[:200]})"
    return text


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date, RFC 9110 §10.2.3); None if absent/invalid."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def link_targets(response: httpx.Response, rel: str) -> list[str]:
    """URLs of the ``Link`` headers with relation ``rel`` (RFC 8288), resolved against the request."""
    targets: list[str] = []
    for header in response.headers.get_list("Link"):
        for part in _split_links(header):
            url_part, _, params = part.partition(">")
            url = url_part.strip().lstrip("<")
            rels: list[str] = []
            for param in params.split(";"):
                name, _, value = param.strip().partition("=")
                if name.strip().lower() == "rel":
                    rels.extend(value.strip().strip('"').split())
            if rel in rels:
                targets.append(str(response.request.url.join(url)) if response.request else url)
    return targets


def _split_links(header: str) -> list[str]:
    """Split a Link header on commas that are outside <...> and quotes."""
    parts, current, in_url, in_quote = [], [], False, False
    for char in header:
        if char == "<" and not in_quote:
            in_url = True
        elif char == ">" and not in_quote:
            in_url = False
        elif char == '"' and not in_url:
            in_quote = not in_quote
        if char == "," and not in_url and not in_quote:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


@dataclass
class Account:
    key: AccountKey
    url: str
    body: dict[str, Any]


@dataclass
class Order:
    url: str
    body: dict[str, Any]
    account: Account

    @property
    def status(self) -> str | None:
        status = self.body.get("status")
        return status if isinstance(status, str) else None


@dataclass
class Issuance:
    """Everything a finished issuance produced, for checks that judge the certificate."""

    account: Account
    order: Order
    identifiers: list[Identifier]
    csr_der: bytes
    cert_key: Any  # the CSR's private key
    certificate_url: str
    chain_pem: bytes
    response: httpx.Response
    authorizations: list[dict[str, Any]] = field(default_factory=list)
    authorization_urls: list[str] = field(default_factory=list)

    @property
    def certificates(self) -> list[x509.Certificate]:
        return x509.load_pem_x509_certificates(self.chain_pem)

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]

    @property
    def leaf_der(self) -> bytes:
        return self.leaf.public_bytes(serialization.Encoding.DER)


class AcmeSession:
    """One client's view of the server; thread-safe enough to share the nonce pool.

    ``deadline`` (monotonic seconds) bounds every request and poll: a check past its budget
    ends with CheckTimeout instead of hanging the run.
    """

    def __init__(
        self,
        client: httpx.Client,
        directory_url: str,
        *,
        deadline: float | None = None,
        directory: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.directory_url = directory_url
        self.deadline = deadline
        self._directory = directory
        self._nonces: collections.deque[str] = collections.deque(maxlen=64)
        self._lock = threading.Lock()
        self.seen_nonces: list[str] = []  # every Replay-Nonce received, for uniqueness checks

    # -- plumbing ------------------------------------------------------------------------------

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise CheckTimeout("the check ran out of its time budget")

    def _remember_nonce(self, response: httpx.Response) -> None:
        nonce = response.headers.get("Replay-Nonce")
        if nonce:
            with self._lock:
                self._nonces.append(nonce)
                self.seen_nonces.append(nonce)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Any HTTP request; transport errors become CouldNotTest with the cause."""
        self._check_deadline()
        try:
            response = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise CouldNotTest(f"{method} {url} failed: {type(exc).__name__}: {exc}") from exc
        self._remember_nonce(response)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def head(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("HEAD", url, **kwargs)

    @property
    def directory(self) -> dict[str, Any]:
        if self._directory is None:
            with noting("fetch directory"):
                response = self.get(self.directory_url)
            body = json_or_none(response)
            if response.status_code != 200 or not isinstance(body, dict):
                raise SetupFailed(
                    f"the directory {self.directory_url} did not answer with a JSON object "
                    f"({describe_response(response)})"
                )
            self._directory = body
        return self._directory

    def url_for(self, resource: str) -> str:
        """A directory resource URL; SKIP-worthy absence is the caller's call, so this raises SetupFailed."""
        value = self.directory.get(resource)
        if not isinstance(value, str):
            raise SetupFailed(f"the directory has no {resource!r} URL")
        return value

    def new_nonce(self) -> str:
        with self._lock:
            if self._nonces:
                return self._nonces.popleft()
        with noting("fetch a fresh nonce"):
            response = self.head(self.url_for("newNonce"))
        nonce = response.headers.get("Replay-Nonce")
        if not nonce:
            raise SetupFailed(f"HEAD newNonce gave no Replay-Nonce ({describe_response(response)})")
        with self._lock:
            # It was remembered by request(); take that copy back out of the pool.
            if nonce in self._nonces:
                self._nonces.remove(nonce)
        return nonce

    def discard_nonces(self) -> None:
        with self._lock:
            self._nonces.clear()

    # -- signed requests -----------------------------------------------------------------------

    def post(
        self,
        url: str,
        payload: Any,
        key: AccountKey,
        *,
        kid: str | None = None,
        fault: JwsFault | None = None,
        nonce: str | None = None,
        use_nonce: bool = True,
        retry_bad_nonce: bool = True,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        """POST a JWS. ``payload`` None is POST-as-GET. ``body`` sends those bytes as they are.

        On badNonce, retries once with the nonce from the error (RFC 8555 §6.5) unless a
        specific nonce was given or ``retry_bad_nonce`` is off; never loops.
        """
        explicit_nonce = nonce is not None or not use_nonce
        attempt_nonce = nonce if nonce is not None else (self.new_nonce() if use_nonce else None)
        response = self._post_once(url, payload, key, kid, fault, attempt_nonce, headers, body)
        if (
            retry_bad_nonce
            and not explicit_nonce
            and response.status_code == 400
            and problem_type(response) == PROBLEM_PREFIX + "badNonce"
        ):
            fresh = response.headers.get("Replay-Nonce")
            if fresh:
                with self._lock:
                    if fresh in self._nonces:
                        self._nonces.remove(fresh)
                with noting("retry after badNonce with the nonce from the error"):
                    response = self._post_once(url, payload, key, kid, fault, fresh, headers, body)
        return response

    def _post_once(
        self,
        url: str,
        payload: Any,
        key: AccountKey,
        kid: str | None,
        fault: JwsFault | None,
        nonce: str | None,
        headers: Mapping[str, str] | None,
        body: bytes | None,
    ) -> httpx.Response:
        signed = sign_request(key, url, nonce, payload, kid=kid, fault=fault)
        request_headers = dict(headers or {})
        if signed.content_type is not None:
            request_headers.setdefault("Content-Type", signed.content_type)
        with describing_jws(signed.protected, signed.payload):
            return self.request("POST", url, content=body if body is not None else signed.body, headers=request_headers)

    def post_as_get(self, url: str, account: Account, **kwargs: Any) -> httpx.Response:
        return self.post(url, None, account.key, kid=account.url, **kwargs)

    def signed(self, url: str, payload: Any, account: Account, **kwargs: Any) -> httpx.Response:
        return self.post(url, payload, account.key, kid=account.url, **kwargs)

    # -- accounts (§7.3) -----------------------------------------------------------------------

    def new_account_request(
        self,
        key: AccountKey,
        *,
        contact: list[str] | None = None,
        terms_agreed: bool | None = True,
        only_return_existing: bool = False,
        eab: tuple[str, bytes] | None = None,
        extra: Mapping[str, Any] | None = None,
        **post_kwargs: Any,
    ) -> httpx.Response:
        payload: dict[str, Any] = {}
        if contact is not None:
            payload["contact"] = contact
        if terms_agreed is not None:
            payload["termsOfServiceAgreed"] = terms_agreed
        if only_return_existing:
            payload["onlyReturnExisting"] = True
        url = self.url_for("newAccount")
        if eab is not None:
            payload["externalAccountBinding"] = external_account_binding(key, eab[0], eab[1], url)
        payload.update(extra or {})
        return self.post(url, payload, key, **post_kwargs)

    def create_account(self, key: AccountKey | None = None, **kwargs: Any) -> Account:
        key = key or AccountKey.generate("ES256")
        with noting("create an account"):
            response = self.new_account_request(key, **kwargs)
        location = response.headers.get("Location")
        body = json_or_none(response)
        if response.status_code not in (200, 201) or not location or not isinstance(body, dict):
            raise SetupFailed(f"newAccount did not create an account ({describe_response(response)})")
        return Account(key=key, url=location, body=body)

    def key_change_request(
        self,
        account: Account,
        new_key: AccountKey,
        *,
        inner_fault: JwsFault | None = None,
        inner_payload: Mapping[str, Any] | None = None,
        inner_url: str | None = None,
        inner_nonce: str | None = None,
        **post_kwargs: Any,
    ) -> httpx.Response:
        """keyChange (§7.3.5): the outer JWS by the old key carries an inner JWS by the new key."""
        url = self.url_for("keyChange")
        payload = dict(inner_payload) if inner_payload is not None else {"account": account.url, "oldKey": account.key.public_jwk()}
        protected: dict[str, Any] = {"alg": new_key.alg, "jwk": new_key.public_jwk(), "url": inner_url or url}
        if inner_nonce is not None:
            protected["nonce"] = inner_nonce
        inner, _ = make_jws(new_key, protected, json_bytes(payload), inner_fault)
        return self.signed(url, inner, account, **post_kwargs)

    # -- orders, authorizations, challenges (§7.4, §7.5, §8) -------------------------------------

    def new_order_request(
        self, account: Account, identifiers: Iterable[Identifier], extra: Mapping[str, Any] | None = None,
        **post_kwargs: Any,
    ) -> httpx.Response:
        payload: dict[str, Any] = {"identifiers": [{"type": i.type, "value": i.value} for i in identifiers]}
        payload.update(extra or {})
        return self.signed(self.url_for("newOrder"), payload, account, **post_kwargs)

    def create_order(self, account: Account, identifiers: Iterable[Identifier], **kwargs: Any) -> Order:
        identifiers = list(identifiers)
        with noting("create an order"):
            response = self.new_order_request(account, identifiers, **kwargs)
        location = response.headers.get("Location")
        body = json_or_none(response)
        if response.status_code != 201 or not location or not isinstance(body, dict):
            raise SetupFailed(f"newOrder did not create an order ({describe_response(response)})")
        return Order(url=location, body=body, account=account)

    def fetch_json(self, url: str, account: Account, what: str) -> dict[str, Any]:
        response = self.post_as_get(url, account)
        body = json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise SetupFailed(f"fetching the {what} {url} failed ({describe_response(response)})")
        return body

    def refresh(self, order: Order) -> Order:
        order.body = self.fetch_json(order.url, order.account, "order")
        return order

    def poll(
        self,
        url: str,
        account: Account,
        done: Callable[[dict[str, Any]], bool],
        what: str,
        budget: float = 15.0,
    ) -> dict[str, Any]:
        """POST-as-GET ``url`` until ``done(body)``; honours Retry-After within ``budget``."""
        stop = time.monotonic() + budget
        interval = _POLL_FIRST
        with noting(f"poll the {what}"):
            while True:
                response = self.post_as_get(url, account)
                body = json_or_none(response)
                if response.status_code != 200 or not isinstance(body, dict):
                    raise SetupFailed(f"polling the {what} {url} failed ({describe_response(response)})")
                if done(body):
                    return body
                remaining = stop - time.monotonic()
                if remaining <= 0:
                    raise SetupFailed(
                        f"the {what} stayed {body.get('status')!r} for {budget:g} s of polling"
                    )
                wait = retry_after_seconds(response)
                delay = min(wait if wait is not None else interval, MAX_RETRY_AFTER, remaining)
                self._sleep(delay)
                interval = min(interval * 2, _POLL_MAX)

    def _sleep(self, seconds: float) -> None:
        if self.deadline is not None and time.monotonic() + seconds > self.deadline:
            raise CheckTimeout("the check's time budget ended while waiting for the server")
        time.sleep(seconds)

    def authorizations(self, order: Order) -> list[tuple[str, dict[str, Any]]]:
        urls = order.body.get("authorizations")
        if not isinstance(urls, list) or not urls:
            raise SetupFailed(f"the order {order.url} lists no authorizations")
        return [(str(u), self.fetch_json(str(u), order.account, "authorization")) for u in urls]

    def respond_to_challenge(
        self,
        account: Account,
        authz: dict[str, Any],
        challenge_type: str,
        backend: ChallengeBackend,
        *,
        key_authz: str | None = None,
    ) -> dict[str, Any]:
        """Provision the challenge on ``backend`` and POST {} to it; returns the challenge object."""
        challenge = find_challenge(authz, challenge_type)
        token = str(challenge.get("token", ""))
        keyauth = key_authz or key_authorization(token, account.key.thumbprint())
        identifier = Identifier(str(authz["identifier"]["type"]), str(authz["identifier"]["value"]))
        provision_challenge(backend, challenge_type, identifier, token, keyauth)
        with noting(f"answer the {challenge_type} challenge"):
            response = self.signed(str(challenge["url"]), {}, account)
        if response.status_code != 200:
            raise SetupFailed(f"answering the {challenge_type} challenge failed ({describe_response(response)})")
        return challenge

    def validate_order(
        self, order: Order, challenge_type: str, backend: ChallengeBackend, budget: float = 15.0
    ) -> list[tuple[str, dict[str, Any]]]:
        """Answer one challenge per pending authorization and wait until all are valid."""
        authzs = self.authorizations(order)
        results = []
        for url, authz in authzs:
            if authz.get("status") == "pending":
                self.respond_to_challenge(order.account, authz, challenge_type, backend)
                authz = self.poll(url, order.account, lambda b: b.get("status") != "pending", "authorization", budget)
            if authz.get("status") != "valid":
                error = find_challenge(authz, challenge_type).get("error")
                raise SetupFailed(f"the authorization {url} became {authz.get('status')!r} (challenge error: {error})")
            results.append((url, authz))
        return results

    def finalize_request(self, order: Order, csr_der: bytes, **post_kwargs: Any) -> httpx.Response:
        return self.signed(str(order.body["finalize"]), {"csr": csr_field(csr_der)}, order.account, **post_kwargs)

    def issue(
        self,
        account: Account,
        identifiers: list[Identifier],
        challenge_type: str,
        backend: ChallengeBackend,
        *,
        budget: float = 20.0,
    ) -> Issuance:
        """The whole happy path: order, validation, finalize, wait for valid, download the chain."""
        order = self.create_order(account, identifiers)
        authzs = self.validate_order(order, challenge_type, backend, budget)
        csr_der, cert_key = make_csr([i.value for i in identifiers])
        order.body = self.poll(order.url, account, lambda b: b.get("status") != "pending", "order", budget)
        with noting("finalize the order"):
            response = self.finalize_request(order, csr_der)
        if response.status_code != 200:
            raise SetupFailed(f"finalize failed ({describe_response(response)})")
        order.body = self.poll(
            order.url, account, lambda b: b.get("status") not in ("ready", "processing"), "order", budget
        )
        if order.status != "valid" or not isinstance(order.body.get("certificate"), str):
            raise SetupFailed(f"the order became {order.status!r} instead of valid with a certificate")
        certificate_url = str(order.body["certificate"])
        with noting("download the certificate"):
            download = self.post_as_get(certificate_url, account, headers={"Accept": PEM_CHAIN})
        if download.status_code != 200:
            raise SetupFailed(f"downloading the certificate failed ({describe_response(download)})")
        try:
            x509.load_pem_x509_certificates(download.content)
        except ValueError as exc:
            raise SetupFailed(f"the certificate download is not a PEM chain: {exc}") from exc
        return Issuance(
            account=account,
            order=order,
            identifiers=identifiers,
            csr_der=csr_der,
            cert_key=cert_key,
            certificate_url=certificate_url,
            chain_pem=download.content,
            response=download,
            authorizations=[a for _, a in authzs],
            authorization_urls=[u for u, _ in authzs],
        )

    # -- revocation (§7.6) ---------------------------------------------------------------------

    def revoke_request(
        self,
        certificate_der: bytes,
        *,
        account: Account | None = None,
        cert_key: AccountKey | None = None,
        reason: int | None = None,
        **post_kwargs: Any,
    ) -> httpx.Response:
        """revokeCert signed by the account key (kid) or by the certificate's own key (jwk)."""
        payload: dict[str, Any] = {"certificate": b64url(certificate_der)}
        if reason is not None:
            payload["reason"] = reason
        url = self.url_for("revokeCert")
        if account is not None:
            return self.signed(url, payload, account, **post_kwargs)
        if cert_key is None:
            raise ValueError("revocation needs an account or the certificate key")
        return self.post(url, payload, cert_key, **post_kwargs)


def find_challenge(authz: Mapping[str, Any], challenge_type: str) -> dict[str, Any]:
    challenges = authz.get("challenges")
    if isinstance(challenges, list):
        for challenge in challenges:
            if isinstance(challenge, dict) and challenge.get("type") == challenge_type:
                return challenge
    raise SetupFailed(f"the authorization offers no {challenge_type} challenge")


def provision_challenge(
    backend: ChallengeBackend, challenge_type: str, identifier: Identifier, token: str, keyauth: str
) -> None:
    if challenge_type not in backend.supports:
        raise SetupFailed(f"the responder backend cannot answer {challenge_type}")
    try:
        _provision(backend, challenge_type, identifier, token, keyauth)
    except (OSError, RuntimeError) as exc:  # HookError, ChallTestSrvError: the responder, not the server
        raise SetupFailed(f"the {type(backend).__name__} could not provision {challenge_type}: {exc}") from exc


def _provision(backend: ChallengeBackend, challenge_type: str, identifier: Identifier, token: str, keyauth: str) -> None:
    if challenge_type == "http-01":
        backend.add_http01(token, keyauth)
    elif challenge_type == "dns-01":
        backend.add_dns01(identifier.value, dns01_txt_value(keyauth))
    elif challenge_type == "tls-alpn-01":
        backend.add_tlsalpn01(identifier, keyauth)
    else:
        raise SetupFailed(f"no responder for challenge type {challenge_type}")


def external_account_binding(key: AccountKey, eab_kid: str, hmac_key: bytes, url: str) -> dict[str, Any]:
    """The externalAccountBinding member of newAccount (RFC 8555 §7.3.4)."""
    return mac_jws(hmac_key, {"kid": eab_kid, "url": url}, json_bytes(key.public_jwk()))
