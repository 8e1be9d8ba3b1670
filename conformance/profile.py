"""Target profiles: a TOML file that describes an external ACME server (docs/profiles.md).

A profile says where the server is (directory URL, trust anchors), how to become its customer
(EAB credentials), how our responders are reached (backend, ports), which identifiers we may use,
what the server claims to support, and how much load a run may put on it (timeouts, budget).
Everything is validated up front with messages that name the key; EAB secrets never leave
this module except as the (kid, key) tuple the harness needs — never printed, never recorded.
"""

from __future__ import annotations

import binascii
import ipaddress
import os
import shlex
import threading
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.jws import b64url_decode
from conformance.model import Skipped
from conformance.responders.base import ALL_CHALLENGE_TYPES

BACKENDS = ("builtin", "challtestsrv", "hook")
BUDGET_KEYS = ("new_accounts", "new_orders")


class ProfileError(ValueError):
    """A profile that cannot work; the message names the file and the key."""


@dataclass(frozen=True)
class Profile:
    path: Path
    name: str
    directory: str
    ca_bundle: str | None = None
    insecure: bool = False
    eab: tuple[str, bytes] | None = field(default=None, repr=False)  # never shown
    backend: str = "builtin"
    hook_command: tuple[str, ...] = ()
    challtestsrv_url: str | None = None
    responder_host: str = "127.0.0.1"
    http_port: int | None = None
    dns_port: int | None = None
    tls_port: int | None = None
    answer_address: str = "127.0.0.1"
    base_domain: str | None = None
    allow_ip: bool = False
    challenge_types: tuple[str, ...] | None = None
    ip_identifiers: bool | None = None
    ari: bool | None = None
    profiles: tuple[str, ...] | None = None
    check_timeout: float | None = None
    request_timeout: float | None = None
    budget: Mapping[str, int] = field(default_factory=dict)

    def run_overrides(self) -> dict[str, Any]:
        """The RunOptions fields this profile sets."""
        overrides: dict[str, Any] = {"ip_identifiers": self.allow_ip and self.ip_identifiers is not False}
        if self.base_domain is not None:
            overrides["base_domain"] = self.base_domain
        if self.challenge_types is not None:
            overrides["challenge_types"] = self.challenge_types
        if self.ari is not None:
            overrides["ari"] = self.ari
        if self.profiles is not None:
            overrides["profiles"] = self.profiles
        if self.budget:
            overrides["budget"] = dict(self.budget)
        if self.check_timeout is not None:
            overrides["check_timeout"] = self.check_timeout
        if self.request_timeout is not None:
            overrides["request_timeout"] = self.request_timeout
        return overrides

    def record(self) -> dict[str, str]:
        """What the run's target record says about the profile: no secrets, only the kid."""
        notes = {"profile": self.name, "profile_file": str(self.path)}
        if self.eab is not None:
            notes["eab_kid"] = self.eab[0]
        if self.challenge_types is not None:
            notes["claimed_challenge_types"] = ",".join(self.challenge_types)
        if self.ip_identifiers is not None:
            notes["claimed_ip_identifiers"] = str(self.ip_identifiers).lower()
        notes["ip_identifiers_allowed"] = str(self.allow_ip).lower()
        if self.ari is not None:
            notes["claimed_ari"] = str(self.ari).lower()
        if self.profiles is not None:
            notes["claimed_profiles"] = ",".join(self.profiles)
        if self.base_domain is not None:
            notes["base_domain"] = self.base_domain
        for key, value in self.budget.items():
            notes[f"budget_{key}"] = str(value)
        if self.check_timeout is not None:
            notes["check_timeout"] = f"{self.check_timeout:g}"
        if self.request_timeout is not None:
            notes["request_timeout"] = f"{self.request_timeout:g}"
        return notes


# -- validation ----------------------------------------------------------------------------------

# section -> key -> expected type(s). Keeping the schema as data gives every error the same shape.
_SCHEMA: dict[str, dict[str, tuple[type, ...]]] = {
    "server": {"name": (str,), "directory": (str,), "ca_bundle": (str,), "insecure": (bool,)},
    "eab": {"kid": (str,), "hmac_key": (str,), "hmac_key_env": (str,)},
    "responders": {
        "backend": (str,), "host": (str,), "http_port": (int,), "dns_port": (int,), "tls_port": (int,),
        "answer_address": (str,), "hook": (str, list), "challtestsrv_url": (str,),
    },
    "identifiers": {"base_domain": (str,), "allow_ip": (bool,)},
    "features": {"challenge_types": (list,), "ip_identifiers": (bool,), "ari": (bool,), "profiles": (list,)},
    "timeouts": {"check": (int, float), "request": (int, float)},
    "budget": {key: (int,) for key in BUDGET_KEYS},
}
_TYPE_NAMES = {str: "a string", bool: "true or false", int: "an integer", float: "a number", list: "a list"}


def _type_ok(value: object, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # TOML true is not a port number
    return isinstance(value, types)


def _validate_shape(data: Mapping[str, Any], where: str) -> None:
    for section, content in data.items():
        if section not in _SCHEMA:
            raise ProfileError(f"{where}: unknown section [{section}] (known: {', '.join(_SCHEMA)})")
        if not isinstance(content, dict):
            raise ProfileError(f"{where}: {section} must be a table ([{section}])")
        for key, value in content.items():
            known = _SCHEMA[section]
            if key not in known:
                raise ProfileError(f"{where}: unknown key {section}.{key} (known: {', '.join(known)})")
            if not _type_ok(value, known[key]):
                wanted = " or ".join(_TYPE_NAMES[t] for t in known[key])
                raise ProfileError(f"{where}: {section}.{key} must be {wanted}, not {type(value).__name__}")


def _port(value: int | None, key: str, where: str) -> int | None:
    if value is not None and not 0 < value < 65536:
        raise ProfileError(f"{where}: {key} must be a port number between 1 and 65535, not {value}")
    return value


def _string_list(value: list[Any] | None, key: str, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not all(isinstance(item, str) and item for item in value):
        raise ProfileError(f"{where}: {key} must be a list of non-empty strings")
    return tuple(value)


def _eab(section: Mapping[str, Any], where: str) -> tuple[str, bytes] | None:
    if not section:
        return None
    kid = section.get("kid")
    if not kid:
        raise ProfileError(f"{where}: eab.kid is required when [eab] is present")
    if "hmac_key" in section and "hmac_key_env" in section:
        raise ProfileError(f"{where}: give eab.hmac_key or eab.hmac_key_env, not both")
    if "hmac_key_env" in section:
        variable = section["hmac_key_env"]
        encoded = os.environ.get(variable)
        if encoded is None:
            raise ProfileError(f"{where}: eab.hmac_key_env names {variable!r}, which is not set")
        source = f"the environment variable {variable}"
    elif "hmac_key" in section:
        encoded, source = section["hmac_key"], "eab.hmac_key"
    else:
        raise ProfileError(f"{where}: [eab] needs hmac_key (base64url) or hmac_key_env")
    try:
        key = b64url_decode(encoded.strip())
    except (ValueError, binascii.Error):
        # The value itself is a secret: name where it came from, never what it is.
        raise ProfileError(f"{where}: {source} is not base64url (as the CA handed it out)") from None
    if not key:
        raise ProfileError(f"{where}: {source} is empty")
    return kid, key


def _resolve(path_text: str, base: Path) -> str:
    path = Path(path_text).expanduser()
    return str(path if path.is_absolute() else (base / path))


def parse_profile(data: Mapping[str, Any], path: Path) -> Profile:
    """Validate parsed TOML; relative paths are relative to the profile file's folder."""
    where = str(path)
    _validate_shape(data, where)
    server = data.get("server", {})
    directory = server.get("directory")
    if not directory:
        raise ProfileError(f"{where}: server.directory (the ACME directory URL) is required")
    parts = urlsplit(directory)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProfileError(f"{where}: server.directory must be an http(s) URL with a host, not {directory!r}")
    insecure = server.get("insecure", False)
    ca_bundle = server.get("ca_bundle")
    if ca_bundle is not None and insecure:
        raise ProfileError(f"{where}: give server.ca_bundle or server.insecure = true, not both")
    base = path.parent
    if ca_bundle is not None:
        ca_bundle = _resolve(ca_bundle, base)
        if not Path(ca_bundle).is_file():
            raise ProfileError(f"{where}: server.ca_bundle {ca_bundle} does not exist")

    responders = data.get("responders", {})
    backend = responders.get("backend", "builtin")
    if backend not in BACKENDS:
        raise ProfileError(f"{where}: responders.backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    hook = responders.get("hook")
    if backend == "hook" and not hook:
        raise ProfileError(f"{where}: responders.backend = \"hook\" needs responders.hook (the command)")
    if hook and backend != "hook":
        raise ProfileError(f"{where}: responders.hook only applies with backend = \"hook\"")
    if isinstance(hook, list):
        hook_command = _string_list(hook, "responders.hook", where) or ()
    else:
        hook_command = tuple(shlex.split(hook)) if hook else ()
    challtestsrv_url = responders.get("challtestsrv_url")
    if challtestsrv_url and backend != "challtestsrv":
        raise ProfileError(f"{where}: responders.challtestsrv_url only applies with backend = \"challtestsrv\"")
    host = responders.get("host", "127.0.0.1")
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise ProfileError(f"{where}: responders.host must be an IP address, not {host!r}") from None
    answer = responders.get("answer_address", "127.0.0.1")
    try:
        answer = str(ipaddress.IPv4Address(answer))
    except ValueError:
        raise ProfileError(f"{where}: responders.answer_address must be an IPv4 address, not {answer!r}") from None

    identifiers = data.get("identifiers", {})
    base_domain = identifiers.get("base_domain")
    if base_domain is not None:
        base_domain = base_domain.strip().rstrip(".").lower()
        labels = base_domain.split(".")
        if len(labels) < 2 or not all(labels) or base_domain.startswith("*"):
            raise ProfileError(f"{where}: identifiers.base_domain must be a domain like test.example.org, "
                               f"not {identifiers['base_domain']!r}")

    features = data.get("features", {})
    challenge_types = _string_list(features.get("challenge_types"), "features.challenge_types", where)
    if challenge_types is not None:
        unknown = sorted(set(challenge_types) - ALL_CHALLENGE_TYPES)
        if unknown:
            raise ProfileError(f"{where}: features.challenge_types has unknown types {', '.join(unknown)} "
                               f"(known: {', '.join(sorted(ALL_CHALLENGE_TYPES))})")
        if not challenge_types:
            raise ProfileError(f"{where}: features.challenge_types must name at least one challenge type")

    timeouts = data.get("timeouts", {})
    for key, value in timeouts.items():
        if value <= 0:
            raise ProfileError(f"{where}: timeouts.{key} must be a positive number of seconds, not {value}")
    budget = dict(data.get("budget", {}))
    for key, value in budget.items():
        if value < 0:
            raise ProfileError(f"{where}: budget.{key} must be 0 or more, not {value}")

    return Profile(
        path=path,
        name=server.get("name") or path.stem,
        directory=directory,
        ca_bundle=ca_bundle,
        insecure=insecure,
        eab=_eab(data.get("eab", {}), where),
        backend=backend,
        hook_command=hook_command,
        challtestsrv_url=challtestsrv_url,
        responder_host=host,
        http_port=_port(responders.get("http_port"), "responders.http_port", where),
        dns_port=_port(responders.get("dns_port"), "responders.dns_port", where),
        tls_port=_port(responders.get("tls_port"), "responders.tls_port", where),
        answer_address=answer,
        base_domain=base_domain,
        allow_ip=identifiers.get("allow_ip", False),
        challenge_types=challenge_types,
        ip_identifiers=features.get("ip_identifiers"),
        ari=features.get("ari"),
        profiles=_string_list(features.get("profiles"), "features.profiles", where),
        check_timeout=timeouts.get("check"),
        request_timeout=timeouts.get("request"),
        budget=budget,
    )


def load_profile(path: Path | str) -> Profile:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(f"cannot read the profile {path}: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ProfileError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML: {exc}") from None
    return parse_profile(data, path)


# -- soft budget enforcement ---------------------------------------------------------------------


class BudgetTransport(httpx.BaseTransport):
    """Counts POSTs to newAccount/newOrder; one beyond the budget is not sent and the check SKIPs.

    Soft: every POST to those URLs counts (also lookups with onlyReturnExisting), so the budget
    is an upper bound of what the server sees.
    """

    def __init__(self, inner: httpx.BaseTransport, budget: Mapping[str, int], directory: Mapping[str, Any]) -> None:
        self._inner = inner
        self._limits: dict[str, tuple[str, int]] = {}
        for key, resource in (("new_accounts", "newAccount"), ("new_orders", "newOrder")):
            url = directory.get(resource)
            if key in budget and isinstance(url, str):
                self._limits[url] = (key, budget[key])
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def used(self) -> dict[str, int]:
        with self._lock:
            return dict(self._used)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        limit = self._limits.get(str(request.url)) if request.method == "POST" else None
        if limit is not None:
            key, maximum = limit
            with self._lock:
                used = self._used.get(key, 0)
                if used >= maximum:
                    raise Skipped(f"the profile's rate-limit budget of {maximum} {key.replace('_', ' ')} "
                                  "per run is used up")
                self._used[key] = used + 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def install_budget(run_ctx: Any, budget: Mapping[str, int]) -> BudgetTransport | None:
    """Put a BudgetTransport in front of the run's client (after the directory is known)."""
    if not budget:
        return None
    client: httpx.Client = run_ctx.client
    # httpx has no public setter for a client's transport; wrapping it keeps RunContext untouched.
    guard = BudgetTransport(client._transport, budget, run_ctx.directory())
    client._transport = guard
    return guard


def apply_run_limits(run_ctx: Any) -> BudgetTransport | None:
    """Apply a profile's rate-limit budget (RunOptions.budget) to a started run.

    (RunOptions.request_timeout is applied by RunContext itself.)
    """
    return install_budget(run_ctx, run_ctx.options.budget)
