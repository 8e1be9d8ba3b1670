"""Central redaction: no artefact may carry private keys, EAB HMAC keys or similar secrets.

The engine never puts key material into an exchange (the EAB HMAC key only signs, it is never
sent), but a report is published, so every event and every rendered document goes through
:func:`redact` anyway: a hostile or buggy server may echo a secret back, and a future check may
record more than it should. Three rules apply to every string, also inside JWS members:

* anything that looks like a PEM ``PRIVATE KEY`` block is replaced;
* private members of a JWK (an object with ``kty``: ``d``, ``p``, ``q``, ``dp``, ``dq``, ``qi``,
  ``k``, ``oth``) and members named like a secret (``hmacKey``, ``mac_key``, ``password``, ...) are replaced;
* every occurrence of a *known* secret (e.g. the run's EAB HMAC key, in each of its textual
  encodings) is replaced.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
REDACTED_PEM = "[REDACTED PRIVATE KEY]"

_PEM_PRIVATE = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.DOTALL
)
# The same, for text whose newlines were escaped (a PEM inside a JSON string inside a body).
_PEM_PRIVATE_ESCAPED = re.compile(r"-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|$)")
_JWK_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
_SECRET_NAME = re.compile(r"hmac|mac_?key|secret|passw|private_?key|privkey", re.IGNORECASE)
# Short strings cannot be told from ordinary text; only secrets at least this long are searched.
_MIN_SECRET_LEN = 8


def secret_forms(secret: bytes | str) -> list[str]:
    """The textual encodings under which a secret could appear in an artefact."""
    raw = secret.encode() if isinstance(secret, str) else secret
    forms = {
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(raw).decode().rstrip("="),
        raw.hex(),
    }
    try:
        forms.add(raw.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    return sorted((f for f in forms if len(f) >= _MIN_SECRET_LEN), key=len, reverse=True)


class Redactor:
    def __init__(self, secrets: Iterable[bytes | str] = ()) -> None:
        self._forms: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: bytes | str) -> None:
        for form in secret_forms(secret):
            if form not in self._forms:
                self._forms.append(form)
        self._forms.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        if "PRIVATE KEY-----" in value:
            value = _PEM_PRIVATE.sub(REDACTED_PEM, value)
            value = _PEM_PRIVATE_ESCAPED.sub(REDACTED_PEM, value)
        for form in self._forms:
            if form in value:
                value = value.replace(form, REDACTED)
        return self._jws_in_text(value)

    def _jws_in_text(self, value: str) -> str:
        # A request or response body that is a JWS carries its payload base64url-encoded: a secret
        # in there would slip past the plain-text rules, so the members are decoded and checked.
        stripped = value.lstrip()
        if not stripped.startswith("{") or '"payload"' not in value:
            return value
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        cleaned = self.value(parsed)
        if cleaned == parsed:
            return value
        return json.dumps(cleaned, ensure_ascii=False)

    def _jws_member(self, encoded: str) -> str:
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            decoded = raw.decode("utf-8")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return encoded
        cleaned = self.text(decoded)
        if cleaned == decoded:
            try:  # a JSON member may hold a nested JWS (externalAccountBinding) or a private JWK
                parsed = json.loads(decoded)
            except ValueError:
                return encoded
            if self.value(parsed) == parsed:
                return encoded
        return f"{REDACTED} (this JWS member contained secret material)"

    def value(self, value: Any, key: str | None = None) -> Any:
        """A redacted copy of a JSON-like value (dicts, lists, strings, scalars)."""
        if isinstance(value, str):
            if key is not None and _SECRET_NAME.search(key) and value:
                return REDACTED
            return self.text(value)
        if isinstance(value, dict):
            is_jwk = isinstance(value.get("kty"), str)
            is_jws = isinstance(value.get("payload"), str) and isinstance(value.get("protected"), str)
            out: dict[str, Any] = {}
            for name, item in value.items():
                if is_jwk and name in _JWK_PRIVATE_MEMBERS:
                    out[name] = REDACTED
                elif is_jws and name in ("payload", "protected") and isinstance(item, str):
                    out[name] = self._jws_member(item)
                else:
                    out[name] = self.value(item, name if isinstance(name, str) else None)
            return out
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value


def redact(value: Any, secrets: Iterable[bytes | str] = ()) -> Any:
    return Redactor(secrets).value(value)
