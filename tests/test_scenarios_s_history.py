"""Fail/pass proofs for the protocol-history checks (scenarios/s_history.py): hooks make Pebble look like a
pre-RFC (ACME v1) server, and each check names the remnant it sees instead of crashing."""

from __future__ import annotations

import json

import pytest
from conftest import CheckRunner, assert_verdict
from faults import jws_payload, rebuild
from faults_challenges import body_of, on, with_json

from conformance.model import Verdict


def _v1_directory(request, response):  # type: ignore[no-untyped-def]
    if request.method == "GET" and request.url.path == "/dir":
        base = f"{request.url.scheme}://{request.url.netloc.decode()}"
        return with_json(response, {"new-reg": base + "/acme/new-reg", "new-authz": base + "/acme/new-authz",
                                    "new-cert": base + "/acme/new-cert", "revoke-cert": base + "/acme/revoke-cert",
                                    "meta": {"terms-of-service": base + "/terms"}})
    return response


def _v1_aliases(request, response):  # type: ignore[no-untyped-def]
    body = body_of(response)
    if request.method == "GET" and request.url.path == "/dir" and isinstance(body, dict):
        body["new-reg"] = body["newAccount"]
        return with_json(response, body)
    return response


def _draft_error_namespace(request, response):  # type: ignore[no-untyped-def]
    body = body_of(response)
    if response.status_code >= 400 and isinstance(body, dict) and isinstance(body.get("type"), str):
        body["type"] = body["type"].replace("urn:ietf:params:acme:error:", "urn:acme:error:")
        return rebuild(response, content=json.dumps(body).encode())
    return response


def _retired_challenge(request, body):  # type: ignore[no-untyped-def]
    body.setdefault("challenges", []).append({"type": "tls-sni-01", "url": str(request.url) + "/sni",
                                              "token": "A" * 43, "status": "pending"})


IDS = ["history.acme-v1-directory", "history.problem-type-namespace", "history.no-combinations",
       "history.no-retired-tls-sni"]


@pytest.mark.parametrize("check_id", IDS)
def test_passes_on_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


@pytest.mark.parametrize(
    ("check_id", "hook", "verdict", "says"),
    [
        ("history.acme-v1-directory", _v1_directory, Verdict.FAIL, "ACME v1"),
        ("history.acme-v1-directory", _v1_aliases, Verdict.WARN, "new-reg"),
        ("history.problem-type-namespace", _draft_error_namespace, Verdict.WARN, "urn:acme:error:"),
        ("history.no-combinations", on("/authZ/", lambda r, b: b.__setitem__("combinations", [[0], [1]])),
         Verdict.INFO, "combinations"),
        ("history.no-retired-tls-sni", on("/authZ/", _retired_challenge), Verdict.WARN, "tls-sni-01"),
    ],
)
def test_history_is_recognised(run_check: CheckRunner, check_id: str, hook, verdict: Verdict, says: str) -> None:  # type: ignore[no-untyped-def]
    assert_verdict(run_check(check_id, hook), verdict, says)


def test_v1_directory_breaks_other_checks_cleanly(run_check: CheckRunner) -> None:
    """Behind a v1 directory the RFC 8555 checks cannot start: a clear ERROR (could not test), not a crash."""
    result = run_check("authz.pending-lists-challenges", _v1_directory)
    assert_verdict(result, Verdict.ERROR, "newAccount")
    assert result.traceback is None


class _IgnoreLegacyFields:
    """Repairs Pebble: the legacy body is accepted as if it were {} and the validation then succeeds."""

    def __init__(self) -> None:
        self.accepted = False

    def __call__(self, request, response):  # type: ignore[no-untyped-def]
        payload = jws_payload(request)
        if "/chalZ/" in request.url.path and isinstance(payload, dict) and "keyAuthorization" in payload:
            self.accepted = True
            return with_json(response, {"type": "http-01", "url": str(request.url), "status": "processing",
                                        "token": "t"}, 200)
        body = body_of(response)
        if self.accepted and "/authZ/" in request.url.path and isinstance(body, dict):
            body["status"] = "valid"
            for item in body.get("challenges") or []:
                item.update(status="valid", validated="2026-01-01T00:00:00Z")
            return with_json(response, body)
        return response


def test_legacy_challenge_body_is_a_pebble_deviation(run_check: CheckRunner) -> None:
    """Pebble 2.4.0 refuses a body with keyAuthorization (baseline; it cites RFC 8555 erratum 5729);
    with the fields ignored, the check passes."""
    assert_verdict(run_check("history.legacy-challenge-body"), Verdict.FAIL, "HTTP 400")
    assert_verdict(run_check("history.legacy-challenge-body", _IgnoreLegacyFields()), Verdict.PASS)
