"""Fault hooks for the authorization, challenge, revocation, state-machine, ARI and profile checks.

Built on tests/faults.py: each hook alters exactly one thing the check judges, or (where Pebble
itself deviates) repairs exactly that deviation, or plays a server feature Pebble lacks.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from typing import Any

import httpx
from faults import jws_header, jws_payload, rebuild

from conformance.jws import b64url_decode

Hook = Callable[[httpx.Request, httpx.Response], httpx.Response]
P = "urn:ietf:params:acme:error:"


def body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def with_json(response: httpx.Response, body: Any, status: int | None = None,
              headers: dict[str, str | None] | None = None) -> httpx.Response:
    return rebuild(response, status=status, content=json.dumps(body).encode(),
                   headers={"Content-Type": "application/json", **(headers or {})})


def problem(response: httpx.Response, status: int, short: str) -> httpx.Response:
    return with_json(response, {"type": P + short, "detail": "injected", "status": status}, status,
                     {"Content-Type": "application/problem+json"})


def is_fetch(request: httpx.Request) -> bool:
    """A POST-as-GET (empty payload)."""
    return request.method == "POST" and jws_payload(request) == ""


def on(fragment: str, edit: Callable[[httpx.Request, Any], Any], *, fetch_only: bool = False) -> Hook:
    """Rewrite JSON bodies of POST responses under ``fragment``: edit(request, body) mutates or returns."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method != "POST" or fragment not in request.url.path or (fetch_only and not is_fetch(request)):
            return response
        body = body_of(response)
        if not isinstance(body, dict):
            return response
        result = edit(request, body)
        # Lambdas often return what dict.pop/setdefault returned: only a dict replaces the body.
        return with_json(response, result if isinstance(result, dict) else body)

    return hook


def each_challenge(edit: Callable[[dict[str, Any]], None]) -> Callable[[httpx.Request, Any], None]:
    """An ``on`` edit for authorizations that applies ``edit`` to each listed challenge."""

    def apply(_request: httpx.Request, body: Any) -> None:
        for item in body.get("challenges") or []:
            if isinstance(item, dict):
                edit(item)

    return apply


def when_status(status: str, edit: Callable[[dict[str, Any]], None]) -> Callable[[httpx.Request, Any], None]:
    def apply(_request: httpx.Request, body: Any) -> None:
        if body.get("status") == status:
            edit(body)

    return apply


def payload_is(request: httpx.Request, payload: Any) -> bool:
    return jws_payload(request) == payload


def kid_of(request: httpx.Request) -> str | None:
    header = jws_header(request)
    return header.get("kid") if isinstance(header, dict) else None


def replace_when(match: Callable[[httpx.Request], bool],
                 make: Callable[[httpx.Request, httpx.Response], httpx.Response]) -> Hook:
    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return make(request, response) if match(request) else response

    return hook


class StickyInvalid:
    """Repairs Pebble's invalid -> deactivated transition: refuse deactivating an invalid authorization
    (400 malformed) and keep showing it invalid."""

    def __init__(self) -> None:
        self.invalid: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method != "POST" or "/authZ/" not in request.url.path:
            return response
        url = str(request.url)
        body = body_of(response)
        with self.lock:
            if isinstance(body, dict) and body.get("status") == "invalid":
                self.invalid.add(url)
            known = url in self.invalid
        if not known:
            return response
        if payload_is(request, {"status": "deactivated"}):
            return problem(response, 400, "malformed")
        if isinstance(body, dict) and body.get("status") == "deactivated":
            body["status"] = "invalid"
            return with_json(response, body)
        return response


class AfterPost:
    """Once a POST under ``trigger`` was seen, apply ``hook`` to the next matching response only."""

    def __init__(self, trigger: str, match: Callable[[httpx.Request], bool], hook: Hook) -> None:
        self.trigger, self.match, self.hook = trigger, match, hook
        self.armed = False
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        with self.lock:
            if request.method == "POST" and self.trigger in request.url.path and not is_fetch(request):
                self.armed = True
                return response
            fire = self.armed and self.match(request)
            if fire:
                self.armed = False
        return self.hook(request, response) if fire else response


def decode_jws_body(content: bytes) -> tuple[dict[str, Any], Any]:
    body = json.loads(content)
    header = json.loads(b64url_decode(body["protected"]))
    raw = b64url_decode(body["payload"])
    return header, (json.loads(raw) if raw else "")


def flip(frm: str, to: str) -> Hook:
    """Authorizations (and their challenges) that ended ``frm`` are shown ended ``to``."""

    def edit(_request: httpx.Request, body: Any) -> None:
        if body.get("status") == frm:
            body["status"] = to
            for item in body.get("challenges") or []:
                item["status"] = to
                item.setdefault("validated", "2026-01-01T00:00:00Z")
                if to == "valid":
                    item.pop("error", None)
                else:
                    item["error"] = {"type": "urn:ietf:params:acme:error:incorrectResponse", "status": 403}

    return on("/authZ/", edit)


# -- features Pebble 2.4.0 does not have, played in front of it ---------------------------------------


class FakeFeature:
    """Advertises extra directory entries and answers requests to made-up paths under Pebble's host.

    Pebble answers those paths 404 (before looking at the JWS), so the fake's answer is all the check
    sees; everything else still comes from Pebble. Subclasses set ``directory`` edits and ``route``.
    """

    prefix = "/fake-"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.base = ""

    def edit_directory(self, directory: dict[str, Any]) -> None:  # pragma: no cover - overridden
        pass

    def route(self, request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        return None

    def rewrite(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return response

    def __call__(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if request.method == "GET" and request.url.path == "/dir":
            body = body_of(response)
            if isinstance(body, dict):
                self.base = f"{request.url.scheme}://{request.url.netloc.decode()}"
                self.edit_directory(body)
                return with_json(response, body)
        if request.url.path.startswith(self.prefix):
            with self.lock:
                answer = self.route(request, response)
            if answer is not None:
                return answer
        return self.rewrite(request, response)


class FakePreauth(FakeFeature):
    """newAuthz (RFC 8555 §7.4.1): pending authorizations whose challenge turns valid when answered; a later
    newOrder for a pre-authorized name lists that authorization and is ready. ``breaks`` names one defect."""

    def __init__(self, breaks: str = "") -> None:
        super().__init__()
        self.breaks = breaks
        self.authzs: dict[str, dict[str, Any]] = {}
        self.by_name: dict[str, str] = {}
        self.count = 0

    def edit_directory(self, directory: dict[str, Any]) -> None:
        directory["newAuthz"] = self.base + "/fake-new-authz"

    def route(self, request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        path = request.url.path
        payload = jws_payload(request)
        if path == "/fake-new-authz":
            ident = payload.get("identifier") if isinstance(payload, dict) else None
            if not isinstance(ident, dict):
                return problem(response, 400, "malformed")
            value = str(ident.get("value"))
            if ident.get("type") != "dns" and self.breaks != "any-type":
                return problem(response, 400, "unsupportedIdentifier")
            if value.startswith("*.") and self.breaks != "wildcard":
                return problem(response, 400, "malformed")
            self.count += 1
            url = f"{self.base}/fake-authz/{self.count}"
            authz = {"identifier": {"type": ident.get("type"), "value": value}, "status": "pending",
                     "expires": "2030-01-01T00:00:00Z",
                     "challenges": [{"type": "http-01", "url": f"{self.base}/fake-chal/{self.count}",
                                     "token": f"fake-token-{self.count:04d}-aaaaaaaaaaaaaaaa", "status": "pending"}]}
            self.authzs[url] = authz
            self.by_name[value] = url
            status = 200 if self.breaks == "status-200" else 201
            return with_json(response, authz, status, {"Location": url})
        if path.startswith("/fake-chal/"):
            url = f"{self.base}/fake-authz/{path.rsplit('/', 1)[-1]}"
            authz = self.authzs.get(url)
            if authz is None:
                return problem(response, 404, "malformed")
            challenge = authz["challenges"][0]
            if payload != "":
                authz["status"] = challenge["status"] = "valid"
                challenge["validated"] = "2026-01-01T00:00:00Z"
            return with_json(response, challenge, 200, {"Link": f'<{url}>;rel="up"'})
        if path.startswith("/fake-authz/"):
            authz = self.authzs.get(str(request.url))
            return with_json(response, authz, 200) if authz else problem(response, 404, "malformed")
        return None

    def rewrite(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if "/order-plz" not in request.url.path or response.status_code != 201 or self.breaks == "no-reuse":
            return response
        body = body_of(response)
        payload = jws_payload(request)
        names = [i.get("value") for i in payload.get("identifiers", [])] if isinstance(payload, dict) else []
        with self.lock:
            urls = [self.by_name.get(str(n)) for n in names]
            valid = all(u and self.authzs[u]["status"] == "valid" for u in urls)
        if isinstance(body, dict) and urls and valid:
            body["authorizations"], body["status"] = urls, "ready"
            return with_json(response, body)
        return response


def ari_serial(cert_id: str) -> int | None:
    """The serial number in an RFC 9773 §4.1 certificate identifier (AKI.serial), or None."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", cert_id):
        return None
    try:
        return int.from_bytes(b64url_decode(cert_id.split(".")[1]), "big")
    except (ValueError, TypeError):
        return None


class FakeAri(FakeFeature):
    """renewalInfo (RFC 9773 §4) and newOrder "replaces" (§5). ``breaks`` names one defect."""

    def __init__(self, breaks: str = "") -> None:
        super().__init__()
        self.breaks = breaks
        self.owner: dict[int, str] = {}  # certificate serial -> account kid that downloaded it
        self.replaced: dict[str, str] = {}  # ARI id -> order URL
        self.replaces: dict[str, str] = {}  # order URL -> ARI id

    def edit_directory(self, directory: dict[str, Any]) -> None:
        directory["renewalInfo"] = (self.base.replace("https", "http") if self.breaks == "http-url" else self.base) \
            + "/fake-renewal-info"

    def route(self, request: httpx.Request, response: httpx.Response) -> httpx.Response | None:
        if not request.url.path.startswith("/fake-renewal-info/"):
            return None
        cert_id = request.url.path.rsplit("/", 1)[-1]
        if ari_serial(cert_id) is None or "=" in cert_id:
            return problem(response, 200 if self.breaks == "malformed-200" else 400, "malformed")
        start, end = "2030-01-01T00:00:00Z", "2030-01-03T00:00:00Z"
        if self.breaks == "end-before-start":
            start, end = end, start
        window = {"start": start, "end": end}
        body: dict[str, Any] = {"suggestedWindow": window}
        if self.breaks == "no-window":
            body = {"explanationURL": "https://example.com/why"}
        headers = {} if self.breaks == "no-retry-after" else {"Retry-After": "21600"}
        return with_json(response, body, 200, headers)

    def rewrite(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        path = request.url.path
        if "/certZ/" in path and response.status_code == 200:
            from cryptography import x509

            try:
                serial = x509.load_pem_x509_certificates(response.content)[0].serial_number
            except ValueError:
                return response
            with self.lock:
                self.owner[serial] = str(kid_of(request))
            return response
        if "/order-plz" in path:
            payload = jws_payload(request)
            cert_id = payload.get("replaces") if isinstance(payload, dict) else None
            if not isinstance(cert_id, str):
                return response
            with self.lock:
                owner = self.owner.get(ari_serial(cert_id) or -1)
                if owner != kid_of(request) and self.breaks != "any-account":
                    return problem(response, 403, "unauthorized")
                if cert_id in self.replaced and self.breaks != "replace-twice":
                    return problem(response, 409, "alreadyReplaced")
                if response.status_code != 201:
                    return response
                location = str(response.headers.get("Location"))
                self.replaced[cert_id] = location
                self.replaces[location] = cert_id
            body = body_of(response)
            if isinstance(body, dict) and self.breaks != "no-echo":
                body["replaces"] = cert_id
            return with_json(response, body)
        if "/my-order/" in path:
            with self.lock:
                cert_id = self.replaces.get(str(request.url))
            body = body_of(response)
            if cert_id and isinstance(body, dict) and self.breaks not in ("no-echo", "forget-later"):
                body["replaces"] = cert_id
                return with_json(response, body)
        return response


class FakeProfiles(FakeFeature):
    """meta.profiles and the newOrder "profile" field (draft-ietf-acme-profiles). ``breaks`` names one defect."""

    PROFILES = {"classic": "the usual certificate", "shortlived": "a six-day certificate"}

    def __init__(self, breaks: str = "") -> None:
        super().__init__()
        self.breaks = breaks
        self.orders: dict[str, str] = {}

    def edit_directory(self, directory: dict[str, Any]) -> None:
        directory.setdefault("meta", {})["profiles"] = (
            ["classic"] if self.breaks == "list" else dict(self.PROFILES))

    def rewrite(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        path = request.url.path
        if "/order-plz" in path and response.status_code == 201:
            payload = jws_payload(request)
            profile = payload.get("profile") if isinstance(payload, dict) else None
            if profile is not None and profile not in self.PROFILES and self.breaks != "accept-unknown":
                return problem(response, 400, "invalidProfile")
            chosen = profile if profile is not None else (None if self.breaks == "no-default" else "classic")
            body = body_of(response)
            if chosen is None or not isinstance(body, dict):
                return response
            with self.lock:
                self.orders[str(response.headers.get("Location"))] = chosen
            if self.breaks != "no-echo":
                body["profile"] = chosen
            return with_json(response, body)
        if "/my-order/" in path:
            with self.lock:
                chosen = self.orders.get(str(request.url))
            body = body_of(response)
            if chosen and isinstance(body, dict) and self.breaks != "forget-later":
                body["profile"] = chosen
                return with_json(response, body)
        return response
