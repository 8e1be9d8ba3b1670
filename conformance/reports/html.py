"""One self-contained HTML report (report.html): summary picture, filters, and per-check evidence.

Everything is inline (CSS, a small script, the bars are CSS) so the file works offline and can be
mailed or published as it is. Every server-supplied string goes through Jinja's autoescaping;
the page's Content-Security-Policy allows no external resource and only our own script (by its
hash), so even markup that slipped through escaping could neither run nor load anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from conformance.reports import register
from conformance.reports._common import VERDICTS, area_of, by_area, counts, parse_time

HTML_FILE = "report.html"
_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
LEVEL_ORDER = ("MUST", "MUST NOT", "REQUIRED", "SHALL", "SHOULD", "SHOULD NOT", "RECOMMENDED", "MAY",
               "OPTIONAL", "descr.")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        # On for every template, not only *.html: a server string must never become markup.
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # a partial run may lack target details
        trim_blocks=True,
        lstrip_blocks=True,
    )


def check_anchor(check_id: str) -> str:
    """The fragment of a check's evidence in report.html (the matrix links to it)."""
    return f"check-{check_id}"


def _pretty(body: dict[str, str] | None) -> tuple[str, bool]:
    """A body for reading: JSON indented when it parses; (text, is_base64)."""
    if not body or not body.get("text"):
        return "", False
    if body.get("encoding") == "base64":
        return body["text"], True
    text = body["text"]
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), False
    except (ValueError, RecursionError):  # RecursionError: absurdly nested JSON from a hostile server
        return text, False


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False)


def _status_class(status: int | None) -> str:
    if status is None:
        return "err"
    return {2: "ok", 3: "redir", 4: "client", 5: "server"}.get(status // 100, "other")


def _exchange_view(exchange: dict[str, Any]) -> dict[str, Any]:
    request, response = exchange["request"], exchange.get("response")
    request_body, request_b64 = _pretty(request.get("body"))
    jws = request.get("jws")
    view: dict[str, Any] = {
        "id": exchange["id"],
        "note": exchange.get("note"),
        "method": request["method"],
        "url": request["url"],
        "started": _clock(exchange.get("started")),
        "duration_ms": f"{float(exchange.get('duration') or 0) * 1000:.1f}",
        "request_headers": request["headers"],
        "request_body": request_body,
        "request_b64": request_b64,
        "jws_protected": _json(jws["protected"]) if jws else None,
        "jws_payload": (_json(jws["payload"]) if jws["payload"] != "" else '"" (empty: POST-as-GET)') if jws else None,
        "error": exchange.get("error"),
        "status": response["status"] if response else None,
        "status_class": _status_class(response["status"] if response else None),
        "http_version": response.get("http_version") if response else None,
        "response_headers": response["headers"] if response else [],
        "response_body": "",
        "response_b64": False,
        "truncated": bool(response and response.get("body_truncated")),
    }
    if response:
        view["response_body"], view["response_b64"] = _pretty(response.get("body"))
    return view


def _clock(epoch: float | None) -> str:
    if epoch is None:
        return ""
    import datetime

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%H:%M:%S.%f")[:-3] + "Z"


def _check_view(check: dict[str, Any], setup_ids: set[int], unfinished: bool = False) -> dict[str, Any]:
    refs = [i for i in check.get("setup_exchanges", []) if isinstance(i, int)]
    return {
        "id": check["id"],
        "anchor": check_anchor(check["id"]),
        "title": check.get("title", ""),
        "section": check.get("section", ""),
        "level": check.get("level", ""),
        "area": area_of(check),
        "requirements": check.get("requirements", []),
        "tags": check.get("tags", []),
        "sentence": check.get("sentence", ""),
        "verdict": "UNFINISHED" if unfinished else check["verdict"],
        "message": "the run was interrupted before this check reached a verdict" if unfinished
        else check.get("message", ""),
        "expected": check.get("expected"),
        "actual": check.get("actual"),
        "notes": check.get("notes", []),
        "duration_ms": f"{float(check.get('duration') or 0) * 1000:.0f}",
        "traceback": check.get("traceback"),
        "exchanges": [_exchange_view(e) for e in check.get("exchanges", [])],
        "setup_refs": [i for i in refs if i in setup_ids],
        "open": unfinished or check.get("verdict") in ("FAIL", "WARN", "ERROR"),
    }


def _bars(groups: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    bars = []
    for name, members in groups.items():
        tally = counts(members)
        total = len(members) or 1
        bars.append({
            "name": name,
            "total": len(members),
            "segments": [{"verdict": v, "count": tally[v], "width": f"{100 * tally[v] / total:.2f}"}
                         for v in VERDICTS if tally[v]],
        })
    return bars


def build_context(document: dict[str, Any]) -> dict[str, Any]:
    setup = document.get("setup_exchanges", [])
    setup_ids = {e["id"] for e in setup}
    checks = [_check_view(c, setup_ids) for c in document.get("checks", [])]
    checks += [_check_view(c, setup_ids, unfinished=True) for c in document.get("unfinished_checks", [])]
    checks.sort(key=lambda c: c["id"])
    judged = document.get("checks", [])
    levels = sorted({c["level"] for c in checks}, key=lambda lvl: (LEVEL_ORDER.index(lvl) if lvl in LEVEL_ORDER else 99))
    by_level: dict[str, list[dict[str, Any]]] = {lvl: [c for c in judged if c.get("level") == lvl] for lvl in levels}
    target = document.get("target", {})
    started, ended = parse_time(document.get("started")), parse_time(document.get("ended"))
    return {
        "doc": document,
        "target": target,
        "tool": document.get("tool", {}),
        "started": document.get("started"),
        "ended": document.get("ended"),
        "elapsed": f"{(ended - started).total_seconds():.1f} s" if started and ended else None,
        "interrupted": bool(document.get("interrupted")),
        "harness_error": document.get("harness_error"),
        "counts": counts(judged),
        "total": len(judged),
        "verdicts": [*VERDICTS, *(["UNFINISHED"] if document.get("unfinished_checks") else [])],
        "area_bars": _bars(by_area(judged)),
        "level_bars": _bars({lvl: members for lvl, members in by_level.items() if members}),
        "areas": sorted({c["area"] for c in checks}),
        "sections": sorted({c["section"] for c in checks}),
        "levels": levels,
        "checks": checks,
        "setup": [_exchange_view(e) for e in setup],
        "directory_json": _json(target.get("directory")) if target.get("directory") is not None else None,
    }


def _asset(name: str) -> str:
    return (_TEMPLATES / name).read_text(encoding="utf-8")


def render_html(document: dict[str, Any]) -> str:
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    template = _environment().get_template("report.html.j2")
    # Our own files, not server data: the only strings marked safe.
    return template.render(
        **build_context(document), script=Markup(script), style=Markup(_asset("report.css")), script_hash=digest
    )


def render(document: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / HTML_FILE
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(document), encoding="utf-8")
    tmp.replace(path)
    return path


register("html", render)
