"""HAR 1.2 (exchanges.har): every recorded exchange, for a browser's developer tools.

Each check is a HAR "page" (its id as the title) so the tools group a check's requests;
set-up exchanges (shared fixtures, the directory probe) form one page of their own. Custom
fields start with "_" as HAR 1.2 allows: ``_exchangeId``, ``_check``, ``_jws``, ``_error``.
"""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from conformance import __version__
from conformance.reports import register
from conformance.reports._common import all_exchanges, iso_from_epoch, owner_of_exchanges

HAR_FILE = "exchanges.har"
SETUP_PAGE = "setup"


def _headers(pairs: list[list[str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def _header(pairs: list[list[str]], wanted: str) -> str | None:
    for name, value in pairs:
        if name.lower() == wanted:
            return value
    return None


def _body_size(body: dict[str, str]) -> int:
    if body["encoding"] == "base64":
        return len(base64.b64decode(body["text"]))
    return len(body["text"].encode("utf-8"))


def _version(value: str | None) -> str:
    return value or "HTTP/1.1"


def entry(exchange: dict[str, Any], page: str) -> dict[str, Any]:
    request, response = exchange["request"], exchange.get("response")
    millis = round(float(exchange.get("duration") or 0) * 1000, 3)
    http_version = _version(response.get("http_version") if response else None)
    har_request: dict[str, Any] = {
        "method": request["method"],
        "url": request["url"],
        "httpVersion": http_version,
        "cookies": [],
        "headers": _headers(request["headers"]),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(urlsplit(request["url"]).query)],
        "headersSize": -1,
        "bodySize": _body_size(request["body"]),
    }
    if request["body"]["text"]:
        har_request["postData"] = {
            "mimeType": _header(request["headers"], "content-type") or "",
            "text": request["body"]["text"] if request["body"]["encoding"] == "utf-8" else "",
            **({"_encoding": "base64", "_base64": request["body"]["text"]}
               if request["body"]["encoding"] == "base64" else {}),
        }
    if response is not None:
        try:
            reason = HTTPStatus(response["status"]).phrase
        except ValueError:
            reason = ""
        content: dict[str, Any] = {
            "size": _body_size(response["body"]),
            "mimeType": _header(response["headers"], "content-type") or "",
            "text": response["body"]["text"],
        }
        if response["body"]["encoding"] == "base64":
            content["encoding"] = "base64"
        if response.get("body_truncated"):
            content["comment"] = "body truncated in the recording"
        har_response: dict[str, Any] = {
            "status": response["status"],
            "statusText": reason,
            "httpVersion": http_version,
            "cookies": [],
            "headers": _headers(response["headers"]),
            "content": content,
            "redirectURL": _header(response["headers"], "location") or "",
            "headersSize": -1,
            "bodySize": content["size"],
        }
    else:  # a transport error: HAR wants a response; status 0 is what browsers record for these
        har_response = {
            "status": 0, "statusText": "", "httpVersion": http_version, "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": ""}, "redirectURL": "", "headersSize": -1, "bodySize": -1,
            "_error": exchange.get("error"),
        }
    result: dict[str, Any] = {
        "pageref": page,
        "startedDateTime": iso_from_epoch(exchange.get("started")),
        "time": millis,
        "request": har_request,
        "response": har_response,
        "cache": {},
        "timings": {"send": 0, "wait": millis, "receive": 0},
        "_exchangeId": exchange["id"],
        "_check": None if page == SETUP_PAGE else page,
    }
    if exchange.get("note"):
        result["comment"] = exchange["note"]
    if request.get("jws") is not None:
        result["_jws"] = request["jws"]
    return result


def build(document: dict[str, Any]) -> dict[str, Any]:
    owners = owner_of_exchanges(document)
    exchanges = all_exchanges(document)
    entries = [entry(e, owners.get(e["id"], SETUP_PAGE)) for e in exchanges]
    pages: dict[str, dict[str, Any]] = {}
    for item in entries:
        page = item["pageref"]
        if page not in pages:
            pages[page] = {
                "startedDateTime": item["startedDateTime"],
                "id": page,
                "title": "set-up exchanges (shared fixtures, directory)" if page == SETUP_PAGE else page,
                "pageTimings": {},
            }
    target = document.get("target", {})
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "acme-conformance", "version": document.get("tool", {}).get("version", __version__)},
            "pages": list(pages.values()),
            "entries": entries,
            "comment": f"ACME conformance run against {target.get('name', '?')} ({target.get('directory_url', '?')})",
        }
    }


def render(document: dict[str, Any], run_dir: Path) -> Path:
    path = run_dir / HAR_FILE
    tmp = path.with_suffix(".har.tmp")
    tmp.write_text(json.dumps(build(document), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


register("har", render)
