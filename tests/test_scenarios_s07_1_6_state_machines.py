"""Fail/pass proofs for the state-machine checks (scenarios/s07_1_6_state_machines.py)."""

from __future__ import annotations

import threading

import pytest
from conftest import CheckRunner, assert_verdict
from faults import rebuild
from faults_challenges import body_of, each_challenge, on, when_status, with_json

from conformance.model import Verdict
from conformance.recorder import Exchange
from scenarios.s07_1_6_state_machines import observe, reachable, transitions_problems

PASSING = ["state.transitions-allowed", "state.created-status", "state.certificate-iff-valid",
           "state.ready-means-authorized", "state.challenge-authz-consistent", "state.error-means-invalid",
           "state.valid-objects-complete"]


class _AuthzUnvalidatedAfterReady:
    """Once an order was shown ready, its authorizations are shown pending again."""

    def __init__(self) -> None:
        self.ready = threading.Event()

    def __call__(self, request, response):  # type: ignore[no-untyped-def]
        body = body_of(response)
        if "/my-order/" in request.url.path and isinstance(body, dict) and body.get("status") == "ready":
            self.ready.set()
        if self.ready.is_set() and "/authZ/" in request.url.path and isinstance(body, dict):
            body["status"] = "pending"
            return with_json(response, body)
        return response


def _new_order_as(status: str):  # type: ignore[no-untyped-def]
    def hook(request, response):  # type: ignore[no-untyped-def]
        body = body_of(response)
        if "/order-plz" in request.url.path and response.status_code == 201 and isinstance(body, dict):
            body["status"] = status
            return with_json(response, body)
        return response

    return hook


def _error_not_invalid(request, body):  # type: ignore[no-untyped-def]
    for item in body.get("challenges") or []:
        if "error" in item:
            item["status"] = "processing"


def _401(request, response):  # type: ignore[no-untyped-def]
    body = body_of(response)
    if response.status_code == 403 and isinstance(body, dict) and body.get("type", "").endswith(":unauthorized"):
        return rebuild(response, status=401)
    return response


FAULTS = {
    "state.transitions-allowed": (_new_order_as("valid"), Verdict.WARN),
    "state.created-status": (_new_order_as("processing"), Verdict.WARN),
    "state.certificate-iff-valid": (on("/my-order/", when_status("ready", lambda b: b.__setitem__(
        "certificate", "https://127.0.0.1/cert/x")), fetch_only=True), Verdict.WARN),
    "state.ready-means-authorized": (_AuthzUnvalidatedAfterReady(), Verdict.WARN),
    "state.challenge-authz-consistent": (on("/authZ/", when_status("valid", lambda b: [
        c.__setitem__("status", "pending") for c in b.get("challenges", [])])), Verdict.WARN),
    "state.error-means-invalid": (on("/authZ/", _error_not_invalid), Verdict.FAIL),
    "state.valid-objects-complete": (on("/authZ/", each_challenge(lambda c: c.pop("validated", None))), Verdict.FAIL),
}


@pytest.mark.parametrize("check_id", PASSING)
def test_passes_on_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


@pytest.mark.parametrize("check_id", sorted(FAULTS))
def test_fails_on_fault(run_check: CheckRunner, check_id: str) -> None:
    hook, verdict = FAULTS[check_id]
    assert_verdict(run_check(check_id, hook), verdict)


def test_order_status_after_authz_deactivation_is_a_pebble_deviation(run_check: CheckRunner) -> None:
    """Pebble 2.4.0 shows such an order as "deactivated", not "invalid" (baseline); repaired, it passes."""
    assert_verdict(run_check("state.order-invalid-after-authz-deactivated"), Verdict.WARN, "deactivated")
    repair = on("/my-order/", when_status("deactivated", lambda b: b.__setitem__("status", "invalid")))
    assert_verdict(run_check("state.order-invalid-after-authz-deactivated", repair), Verdict.PASS)


def test_deactivated_account_status_code_is_a_pebble_deviation(run_check: CheckRunner) -> None:
    """Pebble 2.4.0 answers a deactivated account with 403, not 401 (baseline); repaired, it passes."""
    assert_verdict(run_check("state.deactivated-account-locked"), Verdict.FAIL, "HTTP 403")
    assert_verdict(run_check("state.deactivated-account-locked", _401), Verdict.PASS)


def _exchange(url: str, body: dict, status: int = 200, location: str | None = None) -> Exchange:  # type: ignore[type-arg]
    import json

    headers = [("Location", location)] if location else []
    return Exchange(id=1, method="POST", url=url, request_headers=[], request_body=b"", started=0.0, status=status,
                    response_headers=headers, response_body=json.dumps(body).encode())


def test_observer_reads_histories_and_judges_reachability() -> None:
    order = {"identifiers": [], "finalize": "f", "authorizations": []}
    seen = observe([
        _exchange("https://s/new-order", {**order, "status": "pending"}, 201, "https://s/o/1"),
        _exchange("https://s/o/1", {**order, "status": "valid"}),  # ready and processing skipped: reachable
        _exchange("https://s/o/1", {**order, "status": "ready"}),  # a final state left
    ])
    assert seen.history[("order", "https://s/o/1")] == ["pending", "valid", "ready"]
    assert transitions_problems(seen) == ["order https://s/o/1: valid -> ready"]
    assert reachable("authorization", "pending") >= {"valid", "deactivated", "revoked"}
    assert reachable("challenge", "invalid") == set()


def test_lifecycle_observes_real_transitions(run_check: CheckRunner) -> None:
    """On Pebble the lifecycle really shows changes to judge: orders through ready to valid, the account
    valid -> deactivated, a challenge pending -> invalid."""
    result = run_check("state.transitions-allowed")
    assert_verdict(result, Verdict.PASS)
    seen = observe(result.exchanges)
    orders = [h for (kind, _), h in seen.history.items() if kind == "order"]
    assert any(h[0] == "pending" and h[-1] == "valid" and "ready" in h for h in orders)
    assert any(h[0] == "valid" and h[-1] == "deactivated" for (k, _), h in seen.history.items() if k == "account")
    assert any(h[-1] == "invalid" for (k, _), h in seen.history.items() if k == "challenge")
