"""Extra fault-injection helpers for the account and header checks (on top of tests/faults.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
from faults import RequestMatch, jws_header, jws_payload, path_contains, rebuild

Hook = Callable[[httpx.Request, httpx.Response], httpx.Response]

NEW_ACCOUNT = path_contains("/sign-me-up", "POST")
ACCOUNT = path_contains("/my-account/", "POST")
KEY_CHANGE = path_contains("/rollover-account-key", "POST")
ORDER = path_contains("/my-order/", "POST")
ORDERS = path_contains("/list-orderz/", "POST")
AUTHZ = path_contains("/authZ/", "POST")
CHALLENGE = path_contains("/chalZ/", "POST")
CERT = path_contains("/certZ/", "POST")
NEW_ORDER = path_contains("/order-plz", "POST")


def both(*matchers: RequestMatch) -> RequestMatch:
    return lambda request: all(match(request) for match in matchers)


def payload_is(predicate: Callable[[Any], bool]) -> RequestMatch:
    """Matches requests whose decoded JWS payload satisfies ``predicate`` (never raises)."""

    def match(request: httpx.Request) -> bool:
        try:
            return bool(predicate(jws_payload(request)))
        except (TypeError, KeyError, AttributeError):
            return False

    return match


def has_member(name: str) -> RequestMatch:
    return payload_is(lambda p: isinstance(p, dict) and name in p)


def post_as_get(request: httpx.Request) -> bool:
    return jws_payload(request) == ""


def kid_is_not_url(request: httpx.Request) -> bool:
    """A kid-signed request posted to an account URL other than the signer's."""
    header = jws_header(request) or {}
    return "kid" in header and str(header["kid"]) != str(request.url)


def after(trigger: RequestMatch, hook: Hook) -> Hook:
    """Apply ``hook`` only to exchanges after (not including) the first request matching ``trigger``."""
    state = {"armed": False}
    lock = threading.Lock()

    def wrapped(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        with lock:
            armed = state["armed"]
            if trigger(request):
                state["armed"] = True
        return hook(request, response) if armed else response

    return wrapped


def problem(match: RequestMatch, status: int, kind: str) -> Hook:
    """Answer matching requests with an RFC 8555 problem document."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not match(request):
            return response
        body = {"type": f"urn:ietf:params:acme:error:{kind}", "detail": "injected", "status": status}
        return rebuild(response, status=status, content=json.dumps(body).encode(),
                       headers={"Content-Type": "application/problem+json", "Location": None})

    return hook


def retype(match: RequestMatch, old: str, new: str) -> Hook:
    """Replace one problem type with another in matching error responses."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not match(request):
            return response
        try:
            body = response.json()
        except ValueError:
            return response
        if isinstance(body, dict) and str(body.get("type", "")).endswith(":" + old):
            body["type"] = f"urn:ietf:params:acme:error:{new}"
            return rebuild(response, content=json.dumps(body).encode())
        return response

    return hook


def add_link(match: RequestMatch, target: Callable[[httpx.Request], str | None], rel: str) -> Hook:
    """Append a Link header (keeping the others) whose target is computed from the request."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        url = target(request) if match(request) else None
        if url is None:
            return response
        raw = [(k, v) for k, v in response.headers.multi_items() if k.lower() != "content-encoding"]
        raw.append(("Link", f'<{url}>;rel="{rel}"'))
        extensions = {k: v for k, v in response.extensions.items() if k != "acme_exchange_id"}
        return httpx.Response(response.status_code, headers=raw, content=response.content, extensions=extensions)

    return hook


def status_401_for_403_unauthorized(request: httpx.Request, response: httpx.Response) -> httpx.Response:
    """Repair Pebble's deactivated-account answer: 403 unauthorized becomes the 401 §7.3.6 names."""
    if response.status_code == 403:
        try:
            body = response.json()
        except ValueError:
            return response
        if isinstance(body, dict) and str(body.get("type", "")).endswith(":unauthorized"):
            body["status"] = 401
            return rebuild(response, status=401, content=json.dumps(body).encode())
    return response


def accept_binding(reflect: bool) -> Hook:
    """newAccount with an externalAccountBinding answers 201 (echoing the binding when ``reflect``)."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        payload = jws_payload(request)
        if not NEW_ACCOUNT(request) or not isinstance(payload, dict) or "externalAccountBinding" not in payload:
            return response
        body: dict[str, Any] = {"status": "valid", "orders": "https://127.0.0.1/list-orderz/x"}
        if reflect:
            body["externalAccountBinding"] = payload["externalAccountBinding"]
        return rebuild(response, status=201, content=json.dumps(body).encode(),
                       headers={"Content-Type": "application/json", "Location": "https://127.0.0.1/my-account/x"})

    return hook


def challenge_up_links() -> Hook:
    """Add Link rel="up" to challenge responses, learning each challenge's authz from authz bodies."""
    parents: dict[str, str] = {}
    lock = threading.Lock()

    def learn(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if AUTHZ(request):
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                for challenge in body.get("challenges") or []:
                    if isinstance(challenge, dict) and "url" in challenge:
                        with lock:
                            parents[str(challenge["url"])] = str(request.url)
        return response

    def parent(request: httpx.Request) -> str | None:
        with lock:
            return parents.get(str(request.url))

    link = add_link(CHALLENGE, parent, "up")
    return lambda request, response: link(request, learn(request, response))
