"""Small helpers shared by the account scenario modules (§7.3, §7.3.4-§7.3.6).

The leading underscore keeps this module out of scenario loading: it registers no checks.
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from conformance.acme import Account, SetupFailed, describe_response, json_or_none
from conformance.context import CheckContext
from conformance.jws import AccountKey
from conformance.recorder import noting


def mailto(ctx: CheckContext, label: str = "acme") -> str:
    """A plausible, unique mailto contact under the run's base domain."""
    return f"mailto:{label}-{secrets.token_hex(4)}@{ctx.run.options.base_domain}"


def account_object(ctx: CheckContext, account: Account, what: str = "the account") -> dict[str, Any]:
    """POST-as-GET of the account: a set-up step (SetupFailed if refused)."""
    with noting(f"POST-as-GET {what}"):
        response = ctx.session.post_as_get(account.url, account)
    body = json_or_none(response)
    if response.status_code != 200 or not isinstance(body, dict):
        raise SetupFailed(f"POST-as-GET of {what} failed ({describe_response(response)})")
    return body


def with_key(account: Account, key: AccountKey) -> Account:
    """The same account URL signed with another key (after a key change, or to test the old key)."""
    return Account(key=key, url=account.url, body=account.body)


def is_success(response: httpx.Response) -> bool:
    return 200 <= response.status_code < 300


def eab_required(ctx: CheckContext) -> bool:
    meta = ctx.directory.get("meta")
    return isinstance(meta, dict) and meta.get("externalAccountRequired") is True


def contacts(body: dict[str, Any]) -> list[str]:
    value = body.get("contact")
    return [str(v) for v in value] if isinstance(value, list) else []


def new_account_raw(ctx: CheckContext, key: AccountKey | None = None, what: str = "newAccount",
                    **kwargs: Any) -> httpx.Response:
    """A newAccount request judged by the caller; bound with EAB only when the server requires it."""
    kwargs.setdefault("eab", ctx.run.account_binding())
    with noting(what):
        return ctx.session.new_account_request(key or ctx.new_key(), **kwargs)
