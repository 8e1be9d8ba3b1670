"""Small helpers shared by the renderers (grouping, verdict order, text clean-up)."""

from __future__ import annotations

import datetime
import re
from collections import defaultdict
from typing import Any

VERDICTS = ("PASS", "FAIL", "WARN", "INFO", "SKIP", "ERROR")
# Characters XML 1.0 cannot carry at all (not even escaped); a server may send them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: Any) -> str:
    text = "" if value is None else str(value)
    return _XML_ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def area_of(check: dict[str, Any]) -> str:
    return check.get("area") or str(check.get("id", "")).split(".", 1)[0]


def by_area(checks: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for check in checks:
        groups[area_of(check)].append(check)
    return dict(sorted(groups.items()))


def counts(checks: list[dict[str, Any]]) -> dict[str, int]:
    result = dict.fromkeys(VERDICTS, 0)
    for check in checks:
        result[check["verdict"]] = result.get(check["verdict"], 0) + 1
    return result


def finding(check: dict[str, Any]) -> str:
    """One line for a failure: the message, then expected vs actual when the check gave them."""
    parts = [str(check.get("message") or "")]
    if check.get("expected") is not None:
        parts.append(f"expected: {check['expected']}")
    if check.get("actual") is not None:
        parts.append(f"actual: {check['actual']}")
    return "; ".join(p for p in parts if p)


def parse_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None


def iso_from_epoch(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(timespec="milliseconds")


def all_exchanges(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every recorded exchange once (setup and check-owned), in the order they were sent."""
    seen: dict[int, dict[str, Any]] = {}
    for exchange in document.get("setup_exchanges", []):
        seen.setdefault(exchange["id"], exchange)
    for check in [*document.get("checks", []), *document.get("unfinished_checks", [])]:
        for exchange in check.get("exchanges", []):
            seen.setdefault(exchange["id"], exchange)
    return [seen[i] for i in sorted(seen)]


def owner_of_exchanges(document: dict[str, Any]) -> dict[int, str]:
    owners: dict[int, str] = {}
    for check in [*document.get("checks", []), *document.get("unfinished_checks", [])]:
        for exchange in check.get("exchanges", []):
            owners[exchange["id"]] = check["id"]
    return owners
