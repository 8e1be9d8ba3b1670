"""Judgement helpers: pure functions over a response that raise :class:`Deviation` when it breaks
an expectation. They take a *set* of acceptable outcomes where the RFC leaves latitude
(h2spec's verifiers do the same), and they look at status codes, problem type URNs and header
syntax, never at ``detail`` prose.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Any

import httpx

from conformance.acme import PROBLEM_PREFIX, describe_response, json_or_none, problem_type
from conformance.model import Deviation

BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def fail(message: str, *, expected: str | None = None, actual: str | None = None) -> Deviation:
    """Build (for ``raise``) a deviation graded by the check's level."""
    return Deviation(message, expected=expected, actual=actual)


def full_type(short_or_full: str) -> str:
    return short_or_full if ":" in short_or_full else PROBLEM_PREFIX + short_or_full


def expect_status(response: httpx.Response, allowed: Collection[int], what: str) -> None:
    if response.status_code not in allowed:
        raise fail(
            f"{what}: unexpected status",
            expected="HTTP " + " or ".join(str(s) for s in sorted(allowed)),
            actual=describe_response(response),
        )


def expect_success(response: httpx.Response, what: str) -> None:
    if not 200 <= response.status_code < 300:
        raise fail(f"{what} was refused", expected="a 2xx response", actual=describe_response(response))


def expect_rejected(response: httpx.Response, what: str) -> None:
    """A request that must not succeed: any 4xx is acceptable (the RFC rarely names the type)."""
    if not 400 <= response.status_code < 500:
        raise fail(
            f"{what} was not rejected",
            expected="a 4xx error response (normally 400 malformed)",
            actual=describe_response(response),
        )


def expect_problem(
    response: httpx.Response,
    types: Iterable[str],
    what: str,
    statuses: Collection[int] | None = None,
) -> None:
    """The response is an error with one of ``types`` (short names like "badNonce" or full URNs)."""
    wanted = {full_type(t) for t in types}
    actual_type = problem_type(response)
    status_ok = statuses is None or response.status_code in statuses
    if not (400 <= response.status_code < 600) or actual_type not in wanted or not status_ok:
        expected = "problem type " + " or ".join(sorted(wanted))
        if statuses is not None:
            expected = "HTTP " + "/".join(str(s) for s in sorted(statuses)) + " with " + expected
        raise fail(what, expected=expected, actual=describe_response(response))


def expect_header(response: httpx.Response, name: str, what: str) -> str:
    value = response.headers.get(name)
    if value is None:
        raise fail(f"{what}: no {name} header", expected=f"a {name} header", actual=_headers_summary(response))
    return value


def expect_json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    body = json_or_none(response)
    if not isinstance(body, dict):
        raise fail(
            f"{what}: the body is not a JSON object",
            expected="a JSON object",
            actual=_body_summary(response),
        )
    return body


def expect_base64url(value: str, what: str) -> None:
    if not BASE64URL.match(value):
        raise fail(f"{what} is not base64url", expected="only [A-Za-z0-9_-], no padding", actual=repr(value))


def media_type(response: httpx.Response) -> str | None:
    value = response.headers.get("Content-Type")
    return value.split(";", 1)[0].strip().lower() if value else None


def _headers_summary(response: httpx.Response) -> str:
    names = ", ".join(sorted({k for k in response.headers.keys()}))
    return f"HTTP {response.status_code} with headers: {names or '(none)'}"


def _body_summary(response: httpx.Response) -> str:
    text = response.content[:200].decode("utf-8", "replace")
    return f"HTTP {response.status_code}, Content-Type {response.headers.get('Content-Type')!r}, body {text!r}"
