"""Fault injection in front of the real Pebble: response hooks that alter exactly one thing.

A hook sees each (request, response) pair on the client's transport and returns the response
the check will judge. This is how the tests prove a check FAILS on a server that breaks its
requirement (and, where Pebble itself deviates, PASSES on a server that does not).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from conformance.jws import b64url_decode

RequestMatch = Callable[[httpx.Request], bool]


def method_is(*methods: str) -> RequestMatch:
    return lambda request: request.method in methods


def path_contains(fragment: str, *methods: str) -> RequestMatch:
    return lambda request: fragment in request.url.path and (not methods or request.method in methods)


def jws_header(request: httpx.Request) -> dict[str, Any] | None:
    """Decoded protected header of a JWS request body (None when it is not one)."""
    try:
        body = json.loads(request.content)
        header = json.loads(b64url_decode(body["protected"]))
    except (ValueError, KeyError, TypeError):
        return None
    return header if isinstance(header, dict) else None


def jws_payload(request: httpx.Request) -> Any:
    try:
        body = json.loads(request.content)
        raw = b64url_decode(body["payload"])
        return json.loads(raw) if raw else ""
    except (ValueError, KeyError, TypeError):
        return None


def rebuild(
    response: httpx.Response,
    *,
    status: int | None = None,
    headers: dict[str, str | None] | None = None,
    content: bytes | None = None,
) -> httpx.Response:
    """A copy of ``response`` with a new status, headers set (None removes) or body."""
    new_headers = httpx.Headers(response.headers)
    for name, value in (headers or {}).items():
        if name in new_headers:
            del new_headers[name]
        if value is not None:
            new_headers[name] = value
    body = response.content if content is None else content
    if content is not None:
        new_headers["Content-Length"] = str(len(body))
        new_headers.pop("Content-Encoding", None)
    return httpx.Response(
        status if status is not None else response.status_code,
        headers=new_headers,
        content=body,
        extensions={k: v for k, v in response.extensions.items() if k != "acme_exchange_id"},
    )


def set_header(match: RequestMatch, name: str, value: str | None) -> Callable[[httpx.Request, httpx.Response], httpx.Response]:
    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return rebuild(response, headers={name: value}) if match(request) else response

    return hook


def set_status(match: RequestMatch, status: int) -> Callable[[httpx.Request, httpx.Response], httpx.Response]:
    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return rebuild(response, status=status) if match(request) else response

    return hook


def edit_json(match: RequestMatch, edit: Callable[[Any], Any]) -> Callable[[httpx.Request, httpx.Response], httpx.Response]:
    """Rewrite the JSON body of matching responses with ``edit`` (which may mutate and return)."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not match(request):
            return response
        try:
            body = response.json()
        except ValueError:
            return response
        return rebuild(response, content=json.dumps(edit(body)).encode())

    return hook


def replace_with(
    match: RequestMatch, status: int, body: Any = None, headers: dict[str, str | None] | None = None
) -> Callable[[httpx.Request, httpx.Response], httpx.Response]:
    """Answer matching requests with a fixed status and JSON body (e.g. accept what Pebble rejected)."""

    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        if not match(request):
            return response
        content = b"" if body is None else json.dumps(body).encode()
        extra = {"Content-Type": "application/json"} if body is not None else {}
        return rebuild(response, status=status, content=content, headers={**extra, **(headers or {})})

    return hook


def chain(*hooks: Callable[[httpx.Request, httpx.Response], httpx.Response]) -> Callable[[httpx.Request, httpx.Response], httpx.Response]:
    def hook(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        for item in hooks:
            response = item(request, response)
        return response

    return hook
