"""The fuzzer's view of one server session: protocol steps, the objects they made, and the invariants.

A :class:`World` executes *steps* — plain JSON-able dicts such as ``{"action": "finalize",
"order": 0, "account": 1, "csr": "extra"}`` — so the same sequence can be run by the hypothesis
state machine and, later, by ``acme-conformance replay`` without hypothesis. Objects are named
by creation index, which is deterministic for a given sequence.

Every exchange passes :meth:`World._observe` (no 5xx, problem documents, nonces); every step
judges the invariants it can see. A broken invariant raises :class:`Violation` unless it is
*muted* (already reported, or not the one a replay looks for); muted violations are kept in
``observed`` so nothing is silently lost.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conformance.acme import (
    PEM_CHAIN,
    PROBLEM_PREFIX,
    Account,
    describe_response,
    json_or_none,
    link_targets,
    problem_type,
    provision_challenge,
)
from conformance.context import RunContext
from conformance.csr import csr_field, make_csr
from conformance.fuzz import mutations as mut
from conformance.fuzz.invariants import INVARIANTS, SERVER_ANSWERS, Violation
from conformance.fuzz.states import known_status, reachable
from conformance.jws import AccountKey, b64url
from conformance.model import CouldNotTest, Level
from conformance.recorder import Exchange, Recorder, decode_json_or_none, describing_jws, noting
from conformance.responders.base import Identifier, key_authorization

# Registered ACME error types (IANA "ACME Error Types": RFC 8555 §6.7, RFC 9773, profiles draft).
REGISTERED_TYPES = frozenset(
    PROBLEM_PREFIX + t
    for t in (
        "accountDoesNotExist", "alreadyRevoked", "badCSR", "badNonce", "badPublicKey", "badRevocationReason",
        "badSignatureAlgorithm", "caa", "compound", "connection", "dns", "externalAccountRequired",
        "incorrectResponse", "invalidContact", "malformed", "orderNotReady", "rateLimited", "rejectedIdentifier",
        "serverInternal", "tls", "unauthorized", "unsupportedContact", "unsupportedIdentifier",
        "userActionRequired", "alreadyReplaced", "invalidProfile",
    )
)
DEFINED_REASONS = frozenset({0, 1, 2, 3, 4, 5, 6, 8, 9, 10})  # RFC 5280 §5.3.1 (7 is not used)
REASONS: tuple[int | None, ...] = (None, 0, 1, 4, 5, 9, 7, 11, 99, -1)
CSR_KINDS = ("exact", "extra", "missing", "account-key", "garbage")
SIGNERS = ("owner", "cert-key", "account", "stranger")
FETCH_KINDS = ("account", "orders-list", "order", "authz", "challenge", "certificate")
FOREIGN_KINDS = ("order", "authz", "challenge", "account", "orders-list", "finalize", "answer", "deactivate-authz",
                 "deactivate-account")
TEMPLATES = ("new-order", "new-account", "account-update", "challenge", "finalize", "authz-deactivate",
             "fetch", "revoke")
IDENTIFIER_KINDS = ("fresh", "reuse", "invalid", "ip")
_WRONG_THUMBPRINT = b64url(b"\x00" * 32)  # the thumbprint of no key anyone holds


@dataclass
class AccountState:
    account: Account
    deactivated: bool = False

    @property
    def url(self) -> str:
        return self.account.url


@dataclass
class OrderState:
    url: str
    owner: int
    identifiers: list[Identifier]
    finalize: str
    authz_urls: list[str]


@dataclass
class AuthzState:
    url: str
    owner: int
    identifier: Identifier


@dataclass
class ChallengeState:
    url: str
    owner: int
    type: str
    token: str
    authz: int


@dataclass
class CertState:
    owner: int
    order: int
    url: str
    der: bytes
    cert_key: Any
    names: set[str]
    revoked: bool = False


@dataclass
class Observation:
    """A violation of a muted invariant: kept unshrunk, with the steps that led to it."""

    violation: Violation
    steps: list[dict[str, Any]]


@dataclass
class World:
    run: RunContext
    muted: frozenset[str] = frozenset()
    poll_budget: float = 10.0
    # Whether to POST responses to challenges whose authorization is no longer pending (CH-10 allows
    # either answer; Pebble 2.4.0 deadlocks on it, see baselines/pebble/fuzz.toml).
    settled_challenges: bool = True
    steps: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[AccountState] = field(default_factory=list)
    orders: list[OrderState] = field(default_factory=list)
    authzs: list[AuthzState] = field(default_factory=list)
    challenges: list[ChallengeState] = field(default_factory=list)
    certs: list[CertState] = field(default_factory=list)
    exercised: Counter[str] = field(default_factory=Counter)
    observed: dict[str, Observation] = field(default_factory=dict)
    timings: Counter[str] = field(default_factory=Counter)  # seconds spent per action

    def __post_init__(self) -> None:
        self.session = self.run.session()
        self.recorder = Recorder("fuzz", self._observe)
        self._status: dict[str, tuple[str, str]] = {}  # url -> (kind, last status seen)
        self._nonces_seen: set[str] = set()
        self._spent: list[str] = []
        self._failed_nonces: set[str] = set()  # nonces of requests the server refused (NONCE-14)
        self._pending: list[Violation] = []
        self._provisioned: set[str] = set()  # key authorizations provisioned correctly
        self._valid_names: dict[int, dict[str, str]] = {}  # account -> name -> url of a valid authz
        self._prefix = secrets.token_hex(3)
        self._names = 0
        self._own_judgement = False  # the current request's 5xx is judged by a more specific invariant

    # -- invariant bookkeeping ---------------------------------------------------------------------

    def judge(self, invariant: str, ok: bool, message: str, *, expected: str | None = None,
              actual: str | None = None, requirements: tuple[str, ...] = (), level: Level | None = None) -> None:
        """Count the invariant as exercised; on failure raise (or remember, when muted)."""
        self.exercised[invariant] += 1
        if not ok:
            self._flag(Violation(invariant, message, expected, actual, requirements, level))
        self.raise_pending()

    def _flag(self, violation: Violation) -> None:
        if violation.invariant in self.muted:
            if violation.invariant not in self.observed:
                self.observed[violation.invariant] = Observation(violation, [dict(s) for s in self.steps])
        else:
            self._pending.append(violation)

    def raise_pending(self) -> None:
        if self._pending:
            violation = self._pending[0]
            self._pending.clear()
            raise violation

    def _observe(self, owner: str, exchange: Exchange) -> None:
        """Judge what every exchange must satisfy; violations surface at the next judgement point."""
        if exchange.status is None:
            return
        status = exchange.status
        self.exercised["fuzz.no-server-error"] += 1
        if status >= 500 and not self._own_judgement:
            self._flag(Violation("fuzz.no-server-error", f"{exchange.method} {exchange.url} answered {status}",
                                 "a 2xx or 4xx answer", _summary(exchange)))
        nonce = exchange.response_header("Replay-Nonce")
        if nonce:
            self.exercised["fuzz.nonce-unique"] += 1
            if nonce in self._nonces_seen:
                self._flag(Violation("fuzz.nonce-unique", "the server handed out the same Replay-Nonce twice",
                                     "a fresh nonce in every response", f"Replay-Nonce {nonce} again"))
            self._nonces_seen.add(nonce)
        if exchange.method == "POST" and 200 <= status < 300:
            self.exercised["fuzz.nonce-on-post-success"] += 1
            if not nonce:
                self._flag(Violation("fuzz.nonce-on-post-success", f"successful POST {exchange.url} has no Replay-Nonce",
                                     "a Replay-Nonce header", _summary(exchange)))
        if status >= 400 and exchange.method != "HEAD":
            self._judge_problem(exchange)

    def _judge_problem(self, exchange: Exchange) -> None:
        media = (exchange.response_header("Content-Type") or "").split(";", 1)[0].strip().lower()
        body = decode_json_or_none(exchange.response_body)
        self.exercised["fuzz.problem-document"] += 1
        if media != "application/problem+json" or not isinstance(body, dict):
            self._flag(Violation("fuzz.problem-document", f"error response to {exchange.method} {exchange.url} is "
                                 "not a problem document", "Content-Type application/problem+json with a JSON object",
                                 _summary(exchange)))
        if not isinstance(body, dict):
            return
        self.exercised["fuzz.problem-fields"] += 1
        problems = []
        kind = body.get("type")
        if not isinstance(kind, str) or ":" not in kind:
            problems.append(f"type {kind!r} is not a URI (ERR-2)")
        if "status" in body and body["status"] != exchange.status:
            problems.append(f"status member {body['status']!r} differs from HTTP {exchange.status} (ERR-4)")
        for member in ("detail", "title", "instance"):
            if member in body and not isinstance(body[member], str):
                problems.append(f"{member} is not a string (ERR-5)")
        if "identifier" in body:
            problems.append("top-level identifier member (ERR-7)")
        if problems:
            self._flag(Violation("fuzz.problem-fields", "malformed problem document: " + "; ".join(problems),
                                 "type URI, matching status, string detail/title/instance, no identifier",
                                 _summary(exchange)))
        if isinstance(kind, str) and kind.startswith(PROBLEM_PREFIX):
            self.exercised["fuzz.problem-type-registered"] += 1
            if kind not in REGISTERED_TYPES:
                self._flag(Violation("fuzz.problem-type-registered", f"unregistered ACME error type {kind}",
                                     "a type from the IANA ACME Error Types registry", kind))

    def _saw(self, kind: str, url: str, body: Any, where: str) -> str | None:
        """Record an object's status and judge the transition from the last one seen (SM-1)."""
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str):
            return None
        self.judge("fuzz.status-values", known_status(kind, status),
                   f"the {kind} {url} has status {status!r} ({where}), which RFC 8555 does not define for this object type",
                   expected=f"a {kind} status defined by RFC 8555", actual=f"status {status!r}")
        previous = self._status.get(url)
        if previous is not None and known_status(kind, status):
            self.judge(
                "fuzz.status-transitions", reachable(kind, previous[1], status),
                f"the {kind} {url} went from {previous[1]!r} to {status!r} ({where})",
                expected=f"an allowed {kind} transition (RFC 8555 §7.1.6)", actual=f"{previous[1]} -> {status}",
            )
        self._status[url] = (kind, status)
        return status

    def last_status(self, url: str) -> str | None:
        entry = self._status.get(url)
        return entry[1] if entry else None

    # -- plumbing ------------------------------------------------------------------------------------

    def execute(self, step: dict[str, Any]) -> None:
        """Run one step (recorded first, so a failing step is part of the saved sequence)."""
        self.steps.append(dict(step))
        action = getattr(self, "do_" + step["action"].replace("-", "_"))
        args = {k: v for k, v in step.items() if k != "action"}
        started = time.perf_counter()
        try:
            with noting(f"step {len(self.steps)}: {step['action']}"):
                action(**args)
        except CouldNotTest as exc:
            if "Timeout" not in exc.message:
                raise
            # A request the server never answered: judged (unmuted, always) rather than skipped.
            self.exercised[SERVER_ANSWERS] += 1
            raise Violation(SERVER_ANSWERS, f"the server did not answer during step {len(self.steps)} "
                            f"({step['action']})", "an answer within the client's timeout", exc.message) from exc
        finally:
            self.timings[step["action"]] += time.perf_counter() - started
        self.raise_pending()

    def _nonce(self) -> str:
        return self.session.new_nonce()

    def _spend(self, nonce: str, failed: bool = False) -> str:
        """Remember a nonce that really went out in a request (the spent-nonce mutant reuses one)."""
        self._spent.append(nonce)
        if failed:
            self._failed_nonces.add(nonce)
        return nonce

    def _post(self, url: str, payload: Any, key: AccountKey, kid: str | None, **kwargs: Any) -> httpx.Response:
        nonce = self._nonce()
        response = self.session.post(url, payload, key, kid=kid, nonce=nonce, **kwargs)
        self._spend(nonce, failed=response.status_code >= 400)
        return response

    def _as(self, index: int, url: str, payload: Any, **kwargs: Any) -> httpx.Response | None:
        """A request signed by account ``index``; None (after judging SM-8) when that account is deactivated."""
        state = self.accounts[index]
        response = self._post(url, payload, state.account.key, state.url, **kwargs)
        if state.deactivated:
            self._judge_deactivated(response, url)
            return None
        return response

    def _judge_deactivated(self, response: httpx.Response, url: str) -> None:
        self.judge("fuzz.deactivated-account-refused", 400 <= response.status_code < 500,
                   f"a deactivated account's request to {url} was not refused",
                   expected="a 4xx error (401 unauthorized)", actual=describe_response(response))
        self.judge("fuzz.deactivated-account-401",
                   response.status_code == 401 and problem_type(response) == PROBLEM_PREFIX + "unauthorized",
                   f"a deactivated account's request to {url} did not get 401 unauthorized",
                   expected="HTTP 401 with type urn:ietf:params:acme:error:unauthorized",
                   actual=describe_response(response))

    def _refused(self, response: httpx.Response, what: str, invariant: str = "fuzz.access-control",
                 requirements: tuple[str, ...] = ()) -> None:
        self.judge(invariant, 400 <= response.status_code < 500, f"{what} was not refused",
                   expected="a 4xx error", actual=describe_response(response), requirements=requirements)

    def _pick(self, items: list[Any], index: int) -> tuple[int, Any]:
        # Clamped, not modulo: "a high index" keeps meaning "the last one" when the shrinker removes
        # earlier steps, so removing objects and lowering indexes can happen independently.
        position = min(index, len(items) - 1)
        return position, items[position]

    def _fresh_name(self) -> str:
        self._names += 1
        return f"z{self._prefix}-{self._names}.{self.run.options.base_domain}"

    def _active(self, index: int) -> bool:
        return not self.accounts[index].deactivated

    def _read(self, kind: str, url: str, owner: int, where: str) -> dict[str, Any] | None:
        """POST-as-GET as the owner (when still active); records the status seen."""
        if not self._active(owner):
            return None
        response = self._as(owner, url, None)
        body = json_or_none(response) if response is not None else None
        if response is None or response.status_code != 200 or not isinstance(body, dict):
            return None
        self._saw(kind, url, body, where)
        return body

    def _poll(self, kind: str, url: str, owner: int, settled: Callable[[str | None], bool], where: str) -> str | None:
        stop = time.monotonic() + self.poll_budget
        delay = 0.005
        while True:
            body = self._read(kind, url, owner, where)
            status = body.get("status") if body else None
            if body is None or settled(status) or time.monotonic() > stop:
                return status if isinstance(status, str) else None
            time.sleep(delay)
            delay = min(delay * 1.5, 0.1)

    # -- accounts --------------------------------------------------------------------------------------

    def do_new_account(self, alg: str = "ES256") -> None:
        key = self.run.keys.get(alg)
        response = self.session.new_account_request(key, eab=self.run.account_binding(),
                                                    nonce=self._spend(self._nonce()))
        body = json_or_none(response)
        location = response.headers.get("Location")
        if response.status_code in (200, 201) and location and isinstance(body, dict):
            self.accounts.append(AccountState(Account(key, location, body)))
            self._saw("account", location, body, "newAccount")

    def do_re_register(self, account: int) -> None:
        index, state = self._pick(self.accounts, account)
        response = self.session.new_account_request(state.account.key, nonce=self._spend(self._nonce()))
        if state.deactivated:
            return  # ACCT-15: §7.3.1 and §7.3.6 conflict; an unauthorized error and 200 are both defensible
        self.judge("fuzz.account-key-unique",
                   response.status_code == 200 and response.headers.get("Location") == state.url,
                   "newAccount with an existing account's key did not return that account",
                   expected=f"HTTP 200 with Location {state.url}",
                   actual=f"{describe_response(response)}, Location {response.headers.get('Location')}")

    def do_deactivate_account(self, target: int, account: int) -> None:
        t_index, target_state = self._pick(self.accounts, target)
        a_index, _ = self._pick(self.accounts, account)
        response = self._as(a_index, target_state.url, {"status": "deactivated"})
        if response is None:
            return
        if a_index != t_index:
            accepted = 200 <= response.status_code < 300
            if accepted:
                # Find out whose account the server changed before judging, so the model stays true.
                self._probe_deactivated(a_index)
                self._probe_deactivated(t_index)
            self.judge("fuzz.account-url-matches-signer", not accepted,
                       f"account {a_index}'s deactivation request to account {t_index}'s URL was accepted "
                       f"(deactivated now: {[i for i in (a_index, t_index) if self.accounts[i].deactivated]})",
                       expected="a 4xx error", actual=describe_response(response))
            return
        body = json_or_none(response)
        if response.status_code == 200:
            self._saw("account", target_state.url, body, "deactivation")
            target_state.deactivated = True

    def _probe_deactivated(self, index: int) -> None:
        state = self.accounts[index]
        response = self._post(state.url, None, state.account.key, state.url)
        if response.status_code in (401, 403) and problem_type(response) == PROBLEM_PREFIX + "unauthorized":
            state.deactivated = True
        else:
            self._saw("account", state.url, json_or_none(response), "probe")

    def do_key_change(self, account: int, variant: str = "fresh", other: int = 0) -> None:
        index, state = self._pick(self.accounts, account)
        o_index = index
        if variant == "taken" and len(self.accounts) > 1:
            others = [i for i in range(len(self.accounts)) if i != index]
            o_index = others[min(other, len(others) - 1)]
            new_key = self.accounts[o_index].account.key
        else:
            variant, new_key = "fresh", self.run.keys.get("ES256")
        # A refused conflicting key change is judged by its own SHOULD (409), not as a generic 5xx.
        self._own_judgement = variant == "taken" and not state.deactivated
        try:
            response = self.session.key_change_request(state.account, new_key, nonce=self._spend(self._nonce()))
        finally:
            self._own_judgement = False
        if state.deactivated:
            self._judge_deactivated(response, "keyChange")
            return
        if variant == "taken":
            self.judge("fuzz.key-change-conflict", not 200 <= response.status_code < 300,
                       "a key change to another account's key was accepted",
                       expected="an error status", actual=describe_response(response))
            check = self._post(state.url, None, state.account.key, state.url)
            self.judge("fuzz.key-change-conflict", check.status_code == 200,
                       "after a refused key change the account's own key no longer works",
                       expected="HTTP 200 for a POST-as-GET with the unchanged key", actual=describe_response(check))
            owner = self.accounts[o_index].url
            self.judge("fuzz.key-change-conflict-409",
                       response.status_code == 409 and response.headers.get("Location") == owner,
                       "a key change to a key in use did not answer 409 with the owning account's URL",
                       expected=f"HTTP 409 with Location {owner}",
                       actual=f"{describe_response(response)}, Location {response.headers.get('Location')}")
            return
        if response.status_code == 200:
            old = state.account
            state.account = Account(new_key, old.url, old.body)
            check = self._post(old.url, None, old.key, old.url)
            self.judge("fuzz.key-change-old-key", 400 <= check.status_code < 500,
                       "the old account key still authenticates after a successful key change",
                       expected="a 4xx error for a request signed with the old key", actual=describe_response(check))

    # -- orders, authorizations, challenges ----------------------------------------------------------

    def _identifiers(self, specs: list[list[Any]]) -> list[Identifier]:
        identifiers: list[Identifier] = []
        for kind, n in specs:
            if kind == "reuse" and (self.certs or self.orders):
                pool = sorted({i.value for o in self.orders for i in o.identifiers if i.type == "dns"})
                if pool:
                    identifiers.append(Identifier("dns", pool[min(int(n), len(pool) - 1)]))
                    continue
            if kind == "invalid":
                label = ("-lead", "a..b", "under_score", "x" * 64)[int(n) % 4]
                identifiers.append(Identifier("dns", f"{label}.{self.run.options.base_domain}"))
            elif kind == "ip" and self.run.options.ip_identifiers:
                identifiers.append(Identifier("ip", "127.0.0.1"))
            else:
                identifiers.append(Identifier("dns", self._fresh_name()))
        unique: dict[tuple[str, str], Identifier] = {(i.type, i.value): i for i in identifiers}
        return list(unique.values())

    def do_new_order(self, account: int, identifiers: list[list[Any]]) -> None:
        index, _ = self._pick(self.accounts, account)
        wanted = self._identifiers(identifiers)
        response = self._as(index, self.session.url_for("newOrder"),
                            {"identifiers": [{"type": i.type, "value": i.value} for i in wanted]})
        body = json_or_none(response) if response is not None else None
        location = response.headers.get("Location") if response is not None else None
        if response is None or response.status_code != 201 or not location or not isinstance(body, dict):
            return
        authz_urls = [str(u) for u in body.get("authorizations") or []]
        order = OrderState(location, index, wanted, str(body.get("finalize", "")), authz_urls)
        self.orders.append(order)
        self._saw("order", location, body, "newOrder")
        for url in authz_urls:
            self._learn_authz(url, index)

    def _learn_authz(self, url: str, owner: int) -> None:
        if any(a.url == url for a in self.authzs):
            return
        body = self._read("authz", url, owner, "first fetch")
        if body is None or not isinstance(body.get("identifier"), dict):
            return
        identifier = Identifier(str(body["identifier"].get("type")), str(body["identifier"].get("value")))
        self.authzs.append(AuthzState(url, owner, identifier))
        position = len(self.authzs) - 1
        if body.get("status") == "valid":
            self._valid_names.setdefault(owner, {})[identifier.value.lower()] = url
        for challenge in body.get("challenges") or []:
            if isinstance(challenge, dict) and isinstance(challenge.get("url"), str):
                self.challenges.append(ChallengeState(challenge["url"], owner, str(challenge.get("type")),
                                                      str(challenge.get("token", "")), position))
                self._saw("challenge", challenge["url"], challenge, "in its authorization")

    def _refresh_authz(self, position: int, where: str) -> str | None:
        authz = self.authzs[position]
        body = self._read("authz", authz.url, authz.owner, where)
        if body is None:
            return self.last_status(authz.url)
        names = self._valid_names.setdefault(authz.owner, {})
        if body.get("status") == "valid":
            names[authz.identifier.value.lower()] = authz.url
        elif names.get(authz.identifier.value.lower()) == authz.url:
            del names[authz.identifier.value.lower()]
        for challenge in body.get("challenges") or []:
            if isinstance(challenge, dict) and isinstance(challenge.get("url"), str):
                self._saw("challenge", challenge["url"], challenge, where)
        return str(body.get("status"))

    def _answer(self, position: int, correct: bool) -> None:
        challenge = self.challenges[position]
        authz = self.authzs[challenge.authz]
        owner = self.accounts[challenge.owner]
        if challenge.type not in self.run.backend.supports or challenge.type not in self.run.options.challenge_types:
            return
        right = key_authorization(challenge.token, owner.account.key.thumbprint())
        keyauth = right if correct else key_authorization(challenge.token, _WRONG_THUMBPRINT)
        try:
            provision_challenge(self.run.backend, challenge.type, authz.identifier, challenge.token, keyauth)
        except CouldNotTest:
            return  # e.g. tls-alpn-01 for an identifier the responder cannot serve
        if correct:
            self._provisioned.add(right)
        # Only a pending authorization validates anything: a challenge of a settled one may stay
        # "pending" for ever, so there is nothing to wait for.
        authz_pending = self._refresh_authz(challenge.authz, "before answering") == "pending"
        if not authz_pending and not self.settled_challenges:
            return
        response = self._as(challenge.owner, challenge.url, {})
        if response is None or response.status_code != 200:
            return
        self._saw("challenge", challenge.url, json_or_none(response), "challenge response")
        if not authz_pending:
            return
        self._poll("authz", authz.url, authz.owner, lambda s: s != "pending", "after answering")
        self._refresh_authz(challenge.authz, "after answering a challenge")
        status = self.last_status(challenge.url)
        if not correct and right not in self._provisioned:
            self.judge("fuzz.wrong-answer-not-valid", status != "valid",
                       f"the {challenge.type} challenge {challenge.url} became valid with a wrong key authorization",
                       expected="the challenge becomes invalid", actual=f"status {status}")
        for order in self.orders:
            if authz.url in order.authz_urls:
                self._read("order", order.url, order.owner, "after a challenge")

    def do_answer(self, challenge: int, account: int, correct: bool = True) -> None:
        position, state = self._pick(self.challenges, challenge)
        a_index, _ = self._pick(self.accounts, account)
        if a_index == state.owner:
            self._answer(position, correct)
            return
        before = self._read("challenge", state.url, state.owner, "before a foreign response")
        response = self._as(a_index, state.url, {})
        if response is None:
            return
        self._refused(response, f"account {a_index} answering account {state.owner}'s challenge",
                      requirements=("CH-6",))
        after = self._read("challenge", state.url, state.owner, "after a foreign response")
        if before is not None and after is not None and before.get("status") == "pending":
            self.judge("fuzz.access-control", after.get("status") == "pending",
                       "another account's response started the validation of a challenge",
                       expected="the challenge stays pending", actual=f"status {after.get('status')}",
                       requirements=("CH-6",))

    def do_validate_order(self, order: int, challenge_type: str = "http-01") -> None:
        """Answer one challenge of the given type correctly for every authorization of the order."""
        position, state = self._pick(self.orders, order)
        for authz_position, authz in enumerate(self.authzs):
            if authz.url not in state.authz_urls or self.last_status(authz.url) != "pending":
                continue
            candidates = [i for i, c in enumerate(self.challenges) if c.authz == authz_position]
            preferred = [i for i in candidates if self.challenges[i].type == challenge_type]
            fallback = [i for i in candidates if self.challenges[i].type in ("http-01", "dns-01")]
            chosen = (preferred or fallback or [None])[0]
            if chosen is not None:
                self._answer(chosen, True)

    def do_issue(self, account: int, identifiers: list[list[Any]], challenge_type: str = "http-01") -> None:
        """The happy path as one step (order, validation, finalize, download): it makes deep states common."""
        before = len(self.orders)
        self.do_new_order(account, identifiers)
        if len(self.orders) == before:
            return
        self.do_validate_order(len(self.orders) - 1, challenge_type)
        self.do_finalize(len(self.orders) - 1, self.orders[-1].owner, "exact")

    def do_deactivate_authz(self, authz: int, account: int) -> None:
        position, state = self._pick(self.authzs, authz)
        a_index, _ = self._pick(self.accounts, account)
        if a_index != state.owner:
            before = self._read("authz", state.url, state.owner, "before a foreign deactivation")
            response = self._as(a_index, state.url, {"status": "deactivated"})
            if response is None:
                return
            self._refused(response, f"account {a_index} deactivating account {state.owner}'s authorization",
                          requirements=("AZD-2",))
            after = self._read("authz", state.url, state.owner, "after a foreign deactivation")
            if before is not None and after is not None:
                self.judge("fuzz.access-control", before.get("status") == after.get("status"),
                           "another account changed an authorization's status",
                           expected=f"status {before.get('status')}", actual=f"status {after.get('status')}",
                           requirements=("AZD-2",))
            return
        response = self._as(state.owner, state.url, {"status": "deactivated"})
        if response is None:
            return
        if response.status_code == 200:
            self._saw("authz", state.url, json_or_none(response), "deactivation")
        self._refresh_authz(position, "after deactivation")
        for order in self.orders:
            if state.url in order.authz_urls:
                self._read("order", order.url, order.owner, "after an authorization was deactivated")

    # -- finalize, certificates, revocation --------------------------------------------------------------

    def _csr(self, kind: str, order: OrderState) -> tuple[bytes, Any]:
        names = [i.value for i in order.identifiers]
        if kind == "extra":
            names = names + [self._fresh_name()]
        elif kind == "missing" and len(names) > 1:
            names = names[1:]
        elif kind == "account-key":
            key = self.accounts[order.owner].account.key.private_key
            if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
                return make_csr(names, key)
        elif kind == "garbage":
            return secrets.token_bytes(48), None
        return make_csr(names)

    def do_finalize(self, order: int, account: int, csr: str = "exact") -> None:
        position, state = self._pick(self.orders, order)
        a_index, _ = self._pick(self.accounts, account)
        if a_index != state.owner:
            before = self._read("order", state.url, state.owner, "before a foreign finalize")
            der, _ = make_csr([i.value for i in state.identifiers])
            response = self._as(a_index, state.finalize, {"csr": csr_field(der)})
            if response is None:
                return
            self._refused(response, f"account {a_index} finalizing account {state.owner}'s order",
                          requirements=("ORD-17",))
            after = self._read("order", state.url, state.owner, "after a foreign finalize")
            if before is not None and after is not None and before.get("status") == "ready":
                self.judge("fuzz.access-control", after.get("status") == "ready",
                           "another account's finalize request changed the order",
                           expected="status ready", actual=f"status {after.get('status')}", requirements=("ORD-17",))
            return
        if not self._active(state.owner):
            self._as(state.owner, state.finalize, {"csr": csr_field(make_csr([i.value for i in state.identifiers])[0])})
            return
        authz_status = {}
        for authz_position, authz in enumerate(self.authzs):
            if authz.url in state.authz_urls:
                authz_status[authz.url] = self._refresh_authz(authz_position, "before finalize")
        body = self._read("order", state.url, state.owner, "before finalize")
        before = body.get("status") if body else None
        der, cert_key = self._csr(csr, state)
        response = self._as(state.owner, state.finalize, {"csr": csr_field(der)})
        if response is None:
            return
        if before is not None and before != "ready":
            self.judge("fuzz.finalize-not-ready",
                       response.status_code == 403 and problem_type(response) == PROBLEM_PREFIX + "orderNotReady",
                       f"finalizing an order in state {before!r} did not give 403 orderNotReady",
                       expected="HTTP 403 with type urn:ietf:params:acme:error:orderNotReady",
                       actual=describe_response(response))
        if response.status_code != 200:
            self._read("order", state.url, state.owner, "after a refused finalize")
            return
        self._saw("order", state.url, json_or_none(response), "finalize response")
        status = self._poll("order", state.url, state.owner, lambda s: s not in ("processing",), "after finalize")
        if status != "valid":
            return
        final = self._read("order", state.url, state.owner, "valid order") or {}
        not_valid = {u: s for u, s in authz_status.items() if s != "valid"}
        self.judge("fuzz.certificate-needs-authorization", not not_valid,
                   "a certificate was issued for an order whose authorizations were not all valid",
                   expected="every authorization valid before finalize", actual=f"authorization status {not_valid}")
        url = final.get("certificate")
        if isinstance(url, str):
            self._download_new(position, url, cert_key, csr)

    def _download_new(self, order_position: int, url: str, cert_key: Any, csr_kind: str) -> None:
        state = self.orders[order_position]
        response = self._as(state.owner, url, None, headers={"Accept": PEM_CHAIN})
        if response is None or response.status_code != 200:
            return
        try:
            leaf = x509.load_pem_x509_certificates(response.content)[0]
        except (ValueError, IndexError):
            return  # CERT-2 is the scripted checks' business
        try:
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            names = {n.lower() for n in san.get_values_for_type(x509.DNSName)}
            names |= {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
        except x509.ExtensionNotFound:
            names = set()
        wanted = {i.value.lower() for i in state.identifiers}
        self.judge("fuzz.certificate-identifiers", names == wanted,
                   f"the certificate's names differ from the order's identifiers (CSR kind {csr_kind!r})",
                   expected=", ".join(sorted(wanted)), actual=", ".join(sorted(names)) or "(no subjectAltName)")
        spki = leaf.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        account_key = self.accounts[state.owner].account.key.private_key.public_key()
        account_spki = account_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.judge("fuzz.csr-not-account-key", spki != account_spki,
                   "a certificate was issued for the account's own public key",
                   expected="finalize with the account key in the CSR is refused", actual="a certificate was issued")
        self.certs.append(CertState(state.owner, order_position, url, leaf.public_bytes(serialization.Encoding.DER),
                                    cert_key, names))

    def _authorized_names(self, account: int) -> set[str]:
        return set(self._valid_names.get(account, {}))

    def _revoked_on_server(self, cert: CertState) -> bool | None:
        management = self.run.management
        if management is None:
            return None
        serial = format(x509.load_der_x509_certificate(cert.der).serial_number, "x")
        try:
            return str(management.cert_status(serial).get("Status")) == "Revoked"
        except Exception:  # the management API is a convenience of the embedded Pebble
            return None

    def do_revoke(self, cert: int, signer: str, account: int = 0, reason: int | None = None) -> None:
        position, state = self._pick(self.certs, cert)
        a_index, _ = self._pick(self.accounts, account)
        payload: dict[str, Any] = {"certificate": b64url(state.der)}
        if reason is not None:
            payload["reason"] = reason
        url = self.session.url_for("revokeCert")
        via_authz = False
        if signer == "cert-key" and state.cert_key is not None:
            response = self._post(url, payload, AccountKey(state.cert_key), None)
            authorized = True
        elif signer == "stranger":
            response = self._post(url, payload, self.run.keys.get("ES256"), None)
            authorized = False
        else:
            signer_index = state.owner if signer == "owner" else a_index
            maybe = self._as(signer_index, url, payload)
            if maybe is None:
                return
            response = maybe
            via_authz = signer_index != state.owner and state.names <= self._authorized_names(signer_index)
            authorized = signer_index == state.owner or via_authz
        if not authorized:
            before = self._revoked_on_server(state)
            self._refused(response, "revocation by a key that is neither the account's, the certificate's nor an "
                          "authorized account's", "fuzz.revocation-authorization")
            after = self._revoked_on_server(state)
            if before is not None and after is not None:
                self.judge("fuzz.revocation-authorization", before == after,
                           "an unauthorized revocation request revoked the certificate",
                           expected="the certificate's status unchanged", actual="Revoked")
            return
        ok = response.status_code == 200
        kind = problem_type(response)
        if state.revoked:
            allowed = {PROBLEM_PREFIX + "alreadyRevoked"}
            if reason is not None and reason not in DEFINED_REASONS:
                allowed |= {PROBLEM_PREFIX + "badRevocationReason", PROBLEM_PREFIX + "malformed"}
            self.judge("fuzz.revoke-twice", response.status_code == 400 and kind in allowed,
                       "revoking an already revoked certificate was not refused with alreadyRevoked",
                       expected="HTTP 400 alreadyRevoked", actual=describe_response(response))
        elif reason is not None and reason not in DEFINED_REASONS:
            self.judge("fuzz.revocation-reason", 400 <= response.status_code < 500,
                       f"revocation with reason {reason}, which is no RFC 5280 reasonCode, was accepted",
                       expected="a 4xx error (badRevocationReason)", actual=describe_response(response))
        elif via_authz:
            self.judge("fuzz.revocation-by-authorized-account",
                       ok or kind == PROBLEM_PREFIX + "badRevocationReason",
                       "an account holding valid authorizations for every name of the certificate could not revoke it",
                       expected="HTTP 200 (or badRevocationReason for a reason the server disallows)",
                       actual=describe_response(response))
        if ok:
            state.revoked = True

    # -- fetching ----------------------------------------------------------------------------------------

    def _object(self, kind: str, index: int) -> tuple[str, int, str] | None:
        """(url, owner, status kind) of the index-th known object of ``kind``."""
        if kind == "account" and self.accounts:
            position, acct = self._pick(self.accounts, index)
            return acct.url, position, "account"
        if kind == "orders-list" and self.accounts:
            position, acct = self._pick(self.accounts, index)
            orders = acct.account.body.get("orders")
            return (str(orders), position, "") if isinstance(orders, str) else None
        table: dict[str, list[Any]] = {"order": self.orders, "authz": self.authzs, "challenge": self.challenges,
                                       "certificate": self.certs}
        items = table.get(kind) or []
        if not items:
            return None
        _, item = self._pick(items, index)
        return item.url, item.owner, kind if kind != "certificate" else ""

    def do_fetch(self, kind: str, index: int, account: int) -> None:
        target = self._object(kind, index)
        if target is None:
            return
        url, owner, status_kind = target
        a_index, _ = self._pick(self.accounts, account)
        headers = {"Accept": PEM_CHAIN} if kind == "certificate" else None
        response = self._as(a_index, url, None, headers=headers)
        if response is None:
            return
        if a_index == owner:
            if status_kind and response.status_code == 200:
                self._saw(status_kind, url, json_or_none(response), "POST-as-GET")
            return
        if kind == "certificate":
            return  # CERT-9: certificates may be public by policy
        if kind == "account":
            body = json_or_none(response)
            whose = "the signer's own account object" if isinstance(body, dict) and body.get("orders") == \
                self.accounts[a_index].account.body.get("orders") else "an account object"
            self.judge("fuzz.account-url-matches-signer", not 200 <= response.status_code < 300,
                       f"account {a_index}'s POST-as-GET of account {owner}'s URL was answered with {whose}",
                       expected="a 4xx error", actual=describe_response(response))
            return
        requirement = {"orders-list": "PAG-3", "order": "ORD-17", "authz": "AZ-9",
                       "challenge": "CH-6"}[kind]
        self._refused(response, f"account {a_index} reading account {owner}'s {kind}", requirements=(requirement,))

    # -- one account touching another's objects ---------------------------------------------------------

    def do_foreign(self, kind: str, index: int, account: int) -> None:
        """Another account than the owner reads or acts on the index-th object of ``kind``."""
        owners = {"order": [o.owner for o in self.orders], "authz": [a.owner for a in self.authzs],
                  "challenge": [c.owner for c in self.challenges], "finalize": [o.owner for o in self.orders],
                  "answer": [c.owner for c in self.challenges], "deactivate-authz": [a.owner for a in self.authzs],
                  "account": list(range(len(self.accounts))), "orders-list": list(range(len(self.accounts))),
                  "deactivate-account": list(range(len(self.accounts)))}[kind]
        if not owners or len(self.accounts) < 2:
            return
        position = min(index, len(owners) - 1)
        others = [i for i in range(len(self.accounts)) if i != owners[position]]
        actor = others[min(account, len(others) - 1)]
        if kind == "finalize":
            self.do_finalize(position, actor)
        elif kind == "answer":
            self.do_answer(position, actor)
        elif kind == "deactivate-authz":
            self.do_deactivate_authz(position, actor)
        elif kind == "deactivate-account":
            self.do_deactivate_account(position, actor)
        else:
            self.do_fetch(kind, position, actor)

    # -- mutants -----------------------------------------------------------------------------------------

    def _orders_of(self, owner: int) -> frozenset[str] | None:
        url = self.accounts[owner].account.body.get("orders")
        seen: set[str] = set()
        pages = 0
        while isinstance(url, str) and pages < 20:
            response = self._as(owner, url, None)
            body = json_or_none(response) if response is not None else None
            if response is None or response.status_code != 200 or not isinstance(body, dict):
                return None
            seen |= {str(u) for u in body.get("orders") or []}
            following = link_targets(response, "next")
            url = following[0] if following else None
            pages += 1
        return frozenset(seen)

    def _plan(self, template: str, index: int) -> tuple[mut.RequestPlan, Callable[[], Any], int | None] | None:
        """The valid request a mutant starts from, a snapshot function of what it could change, and its owner."""
        other_urls = [self.session.url_for(r) for r in ("newOrder", "newAccount", "revokeCert")]
        other_urls += [o.url for o in self.orders[-3:]] + [a.url for a in self.accounts[-2:]]
        spent = self._spent[-1] if self._spent else None

        def plan(url: str, payload: Any, owner: int | None, key: AccountKey | None = None) -> mut.RequestPlan:
            acct = self.accounts[owner].account if owner is not None else None
            foreign = [a.url for i, a in enumerate(self.accounts) if i != owner]
            return mut.RequestPlan(template, url, payload, key or acct.key, acct.url if acct else None,  # type: ignore[union-attr]
                                   self._nonce(), other_urls, foreign[0] if foreign else None, spent)

        def status_of(kind: str, url: str, owner: int) -> Callable[[], Any]:
            def snap() -> Any:
                body = self._read(kind, url, owner, "mutant snapshot")
                return None if body is None else (body.get("status"), body.get("certificate"), body.get("contact"))
            return snap

        if template == "new-account":
            key = self.run.keys.get("ES256")
            def exists() -> Any:
                response = self.session.new_account_request(key, only_return_existing=True, nonce=self._nonce())
                return response.status_code == 200
            return plan(self.session.url_for("newAccount"), {"termsOfServiceAgreed": True}, None, key), exists, None
        if not self.accounts:
            return None
        if template == "new-order":
            owner, _ = self._pick(self.accounts, index)
            payload = {"identifiers": [{"type": "dns", "value": self._fresh_name()}]}
            return plan(self.session.url_for("newOrder"), payload, owner), lambda: self._orders_of(owner), owner
        if template == "account-update":
            owner, acct = self._pick(self.accounts, index)
            payload = {"contact": [f"mailto:fuzz-{secrets.token_hex(3)}@example.com"]}
            return plan(acct.url, payload, owner), status_of("account", acct.url, owner), owner
        if template == "challenge" and self.challenges:
            _, c = self._pick(self.challenges, index)
            if not self.settled_challenges and self.last_status(self.authzs[c.authz].url) != "pending":
                return None
            return plan(c.url, {}, c.owner), status_of("challenge", c.url, c.owner), c.owner
        if template in ("finalize", "fetch") and self.orders:
            _, o = self._pick(self.orders, index)
            if template == "fetch":
                return plan(o.url, None, o.owner), status_of("order", o.url, o.owner), o.owner
            der, _ = make_csr([i.value for i in o.identifiers])
            return plan(o.finalize, {"csr": csr_field(der)}, o.owner), status_of("order", o.url, o.owner), o.owner
        if template == "authz-deactivate" and self.authzs:
            _, a = self._pick(self.authzs, index)
            return plan(a.url, {"status": "deactivated"}, a.owner), status_of("authz", a.url, a.owner), a.owner
        if template == "revoke" and self.certs:
            _, c = self._pick(self.certs, index)
            payload = {"certificate": b64url(c.der)}
            return (plan(self.session.url_for("revokeCert"), payload, c.owner), lambda: self._revoked_on_server(c),
                    c.owner)
        return None

    def do_mutant(self, template: str, index: int, mutation: dict[str, Any]) -> None:
        mutation_obj = mut.Mutation.from_dict(mutation)
        planned = self._plan(template, index)
        if planned is None:
            return
        plan, snapshot, owner = planned
        if owner is not None and not self._active(owner):
            return
        if not mut.applicable(mutation_obj, plan):
            return
        prepared = mut.apply(mutation_obj, plan)
        if not mut.changed(mutation_obj, plan, prepared):
            return
        before = snapshot()
        with noting(f"mutant {mutation_obj.describe()} of {template}"), \
                describing_jws(prepared.protected or {}, prepared.payload):
            response = self.session.request(prepared.method, prepared.url, content=prepared.body,
                                            headers=prepared.headers)
        after = snapshot()
        expect = mut.expectation(mutation_obj)
        if (mutation_obj.family, mutation_obj.kind) == ("nonce", "spent") and plan.spent_nonce in self._failed_nonces:
            # The nonce appeared in a request the server refused: still spent (§6.5), catalogue NONCE-14.
            expect = mut.Expectation(("NONCE-14",), expect.level, expect.statuses, expect.types)
        invariant = f"fuzz.mutant.{mutation_obj.family}"
        status_ok = (400 <= response.status_code < 500 if expect.statuses is None
                     else response.status_code in expect.statuses)
        type_ok = expect.types is None or problem_type(response) in expect.types
        wanted = ("HTTP " + "/".join(map(str, sorted(expect.statuses))) if expect.statuses else "a 4xx error")
        if expect.types:
            wanted += " with type " + " or ".join(sorted(expect.types))
        self.judge(invariant, status_ok and type_ok,
                   f"the {template} request with {mutation_obj.describe()} was not rejected as required",
                   expected=wanted, actual=describe_response(response), requirements=expect.requirements,
                   level=expect.level)
        if before is not None and after is not None:
            self.judge(invariant, before == after,
                       f"the {template} request with {mutation_obj.describe()} changed the server's state",
                       expected=f"unchanged: {before!r}", actual=f"now: {after!r}",
                       requirements=expect.requirements + ("JWS-19",), level=expect.level)


def _summary(exchange: Exchange) -> str:
    body = exchange.response_body[:200].decode("utf-8", "replace")
    return f"HTTP {exchange.status}, Content-Type {exchange.response_header('Content-Type')!r}, body {body!r}"


__all__ = ["World", "INVARIANTS", "Violation", "REASONS", "CSR_KINDS", "SIGNERS", "FETCH_KINDS", "FOREIGN_KINDS",
           "TEMPLATES", "IDENTIFIER_KINDS"]
