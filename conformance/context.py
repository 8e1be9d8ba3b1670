"""What a check gets to work with: the run (target, responders, shared client) and its own context.

A :class:`RunContext` lives for one run and is shared by concurrent checks. A
:class:`CheckContext` is made per check: its own recorder, its own protocol session with the
check's deadline, and helpers for the set-up steps most checks need.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from conformance.acme import Account, AcmeSession, Issuance
from conformance.jws import AccountKey
from conformance.keypool import KeyPool
from conformance.model import CheckSpec, CouldNotTest, Skipped
from conformance.recorder import (
    BODY_DEADLINE,
    Exchange,
    Recorder,
    RecordingTransport,
    ResponseHook,
    is_loopback_host,
    recording,
)
from conformance.responders.base import ChallengeBackend, Identifier
from conformance.targets.base import TargetInfo, httpx_verify

T = TypeVar("T")

DEFAULT_BASE_DOMAIN = "acme-conformance.example"
# A hostile or stuck server must not hold a check for longer than this per request.
REQUEST_TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass
class RunOptions:
    base_domain: str = DEFAULT_BASE_DOMAIN
    # (kid, HMAC key) the server knows. Accounts are bound with it only where the directory says
    # externalAccountRequired; the EAB checks use it explicitly.
    eab: tuple[str, bytes] | None = None
    challenge_types: tuple[str, ...] = ("http-01", "dns-01", "tls-alpn-01")
    ip_identifiers: bool = True  # whether the server may be asked for IP identifiers (127.0.0.1)
    # What a target profile says the server claims (None: not stated, checks find out themselves).
    ari: bool | None = None  # RFC 9773 renewalInfo
    profiles: tuple[str, ...] | None = None  # draft-ietf-acme-profiles names it offers
    # Soft rate-limit budget for one run, e.g. {"new_accounts": 20, "new_orders": 50}; requests
    # beyond it are not sent and the check SKIPs (see conformance.profile.install_budget).
    budget: dict[str, int] = field(default_factory=dict)
    check_timeout: float | None = None  # a profile's default per-check budget (--timeout wins)
    request_timeout: float | None = None  # a profile's per-request HTTP timeout (default REQUEST_TIMEOUT)
    response_hook: ResponseHook | None = None  # fault injection for the project's own tests


@dataclass
class _Fixture:
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: bool = False
    value: Any = None
    error: CouldNotTest | None = None
    exchanges: list[Exchange] = field(default_factory=list)


class RunContext:
    """Shared state of one run: target, responder backend, HTTP client, shared fixtures."""

    def __init__(
        self,
        target: TargetInfo,
        backend: ChallengeBackend,
        options: RunOptions | None = None,
        *,
        on_exchange: Callable[[str, Exchange], None] | None = None,
        management: Any = None,  # an EmbeddedPebble when the target is one (management API)
        keys: KeyPool | None = None,
    ) -> None:
        self.target = target
        self.backend = backend
        self.options = options or RunOptions()
        self.management = management
        self.on_exchange = on_exchange
        self.transport = RecordingTransport(
            httpx.HTTPTransport(verify=httpx_verify(target.verify), retries=0),
            self.options.response_hook,
            loopback_only=is_loopback_host(httpx.URL(target.directory_url).host),
            # A body may take a little longer than one read, never unboundedly longer.
            body_deadline=BODY_DEADLINE if self.options.request_timeout is None else 1.5 * self.options.request_timeout,
        )
        # trust_env=False: proxies from the environment must never carry loopback traffic away.
        self.client = httpx.Client(
            transport=self.transport, timeout=self._timeout(), trust_env=False, follow_redirects=False,
            headers={"User-Agent": "acme-conformance", "Accept-Language": "en", "Accept-Encoding": "identity"},
        )
        self._own_keys = keys is None
        self.keys = keys if keys is not None else KeyPool()
        self._fixtures: dict[str, _Fixture] = {}
        self._fixtures_lock = threading.Lock()
        self._directory: dict[str, Any] | None = None
        self.directory_answered = False  # whether the last directory fetch got any HTTP status line
        self._directory_lock = threading.Lock()

    def _timeout(self) -> httpx.Timeout:
        seconds = self.options.request_timeout
        if seconds is None:
            return REQUEST_TIMEOUT
        return httpx.Timeout(seconds, connect=min(seconds, 5.0))

    def close(self) -> None:
        if self._own_keys:
            self.keys.close()
        self.client.close()

    def session(self, deadline: float | None = None) -> AcmeSession:
        return AcmeSession(self.client, self.target.directory_url, deadline=deadline, directory=self._directory)

    def directory(self) -> dict[str, Any]:
        """The directory as first fetched this run (checks of the directory itself fetch their own)."""
        with self._directory_lock:
            if self._directory is None:
                recorder = Recorder("run:directory", self.on_exchange)
                try:
                    with recording(recorder):
                        self._directory = self.session().directory
                finally:
                    self.directory_answered = any(e.status is not None for e in recorder.exchanges)
            return self._directory

    def account_binding(self) -> tuple[str, bytes] | None:
        """EAB credentials for ordinary new accounts: only when the server requires a binding."""
        meta = self.directory().get("meta")
        required = isinstance(meta, dict) and meta.get("externalAccountRequired") is True
        return self.options.eab if required else None

    def fixture(self, name: str, factory: Callable[[AcmeSession], T]) -> tuple[T, list[Exchange]]:
        """Compute a shared, read-only set-up object once per run; its failure is remembered.

        The exchanges that made it are returned too, so each check using it can show them.
        """
        with self._fixtures_lock:
            entry = self._fixtures.setdefault(name, _Fixture())
        with entry.lock:
            if not entry.done:
                recorder = Recorder(f"fixture:{name}", self.on_exchange)
                with recording(recorder):
                    try:
                        entry.value = factory(self.session(deadline=time.monotonic() + 60))
                    except CouldNotTest as exc:
                        entry.error = exc
                entry.exchanges = list(recorder.exchanges)
                entry.done = True
        if entry.error is not None:
            raise CouldNotTest(f"shared set-up {name!r} failed: {entry.error.message}")
        return entry.value, entry.exchanges


class CheckContext:
    """The per-check view: recorder, session with deadline, set-up helpers, notes."""

    def __init__(self, run: RunContext, spec: CheckSpec, recorder: Recorder, deadline: float) -> None:
        self.run = run
        self.spec = spec
        self.recorder = recorder
        self.deadline = deadline
        self.notes: list[str] = []
        self.setup_exchanges: list[Exchange] = []
        self._session: AcmeSession | None = None

    @property
    def session(self) -> AcmeSession:
        if self._session is None:
            self._session = self.run.session(self.deadline)
        return self._session

    @property
    def directory(self) -> dict[str, Any]:
        return self.run.directory()

    @property
    def backend(self) -> ChallengeBackend:
        return self.run.backend

    def note(self, text: str) -> None:
        """Something the report should say about this check besides the verdict."""
        self.notes.append(text)

    def require_resource(self, name: str) -> str:
        """The directory URL for ``name``, or SKIP when the server does not advertise it."""
        value = self.directory.get(name)
        if not isinstance(value, str):
            raise Skipped(f"the directory does not advertise {name!r}")
        return value

    def require_challenge_type(self, challenge_type: str) -> None:
        if challenge_type not in self.run.options.challenge_types or challenge_type not in self.backend.supports:
            raise Skipped(f"{challenge_type} is not enabled for this target or responder backend")

    def new_key(self, alg: str = "ES256") -> AccountKey:
        return self.run.keys.get(alg)

    def new_account(self, alg: str = "ES256", **kwargs: Any) -> Account:
        kwargs.setdefault("eab", self.run.account_binding())
        return self.session.create_account(self.new_key(alg), **kwargs)

    def new_domain(self, label: str = "") -> str:
        prefix = f"{label}-" if label else ""
        return f"{prefix}{secrets.token_hex(5)}.{self.run.options.base_domain}"

    def new_identifiers(self, count: int = 1, label: str = "") -> list[Identifier]:
        return [Identifier("dns", self.new_domain(label)) for _ in range(count)]

    def issue(self, challenge_type: str = "http-01", account: Account | None = None, **kwargs: Any) -> Issuance:
        """A fresh issuance owned by this check (safe to revoke or otherwise destroy)."""
        self.require_challenge_type(challenge_type)
        account = account or self.new_account()
        identifiers = kwargs.pop("identifiers", None) or self.new_identifiers()
        return self.session.issue(account, identifiers, challenge_type, self.backend, **kwargs)

    def shared(self, name: str, factory: Callable[[AcmeSession], T]) -> T:
        """A run-wide, read-only set-up object (e.g. one issued certificate judged by many checks)."""
        value, exchanges = self.run.fixture(name, factory)
        self.setup_exchanges.extend(exchanges)
        return value

    def shared_issuance(self, challenge_type: str = "http-01") -> Issuance:
        """One issuance per challenge type for the whole run; never modify or revoke it."""
        self.require_challenge_type(challenge_type)
        run = self.run

        def make(session: AcmeSession) -> Issuance:
            account = session.create_account(run.keys.get("ES256"), eab=run.account_binding())
            identifiers = [Identifier("dns", f"shared-{secrets.token_hex(5)}.{run.options.base_domain}")]
            return session.issue(account, identifiers, challenge_type, run.backend)

        return self.shared(f"issuance:{challenge_type}", make)

    def shared_account(self) -> Account:
        """One account for read-only checks (never deactivated, never key-changed)."""
        run = self.run

        def make(session: AcmeSession) -> Account:
            return session.create_account(run.keys.get("ES256"), eab=run.account_binding())

        return self.shared("account", make)
