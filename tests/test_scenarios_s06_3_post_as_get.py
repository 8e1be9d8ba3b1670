"""Fail/pass proofs for the GET / POST-as-GET checks (scenarios/s06_3_post_as_get.py)."""

from __future__ import annotations

import json

import httpx
import pytest
from conftest import CheckRunner, assert_verdict
from faults import edit_json, path_contains, rebuild, set_header
from faults_jws import accept, in_check_only, problem

from conformance.model import Verdict
from conformance.recorder import current_recorder

# resource name in the check id -> a path fragment of Pebble's URL for it
GET_PATHS = {
    "account": "/my-account/", "orders-list": "/list-orderz/", "order": "/my-order/", "authorization": "/authZ/",
    "challenge": "/chalZ/", "certificate": "/certZ/", "finalize": "/finalize-order/", "new-account": "/sign-me-up",
    "new-order": "/order-plz", "revoke-cert": "/revoke-cert", "key-change": "/rollover-account-key",
}


@pytest.mark.parametrize("name", sorted(GET_PATHS))
def test_get_is_405(run_check: CheckRunner, name: str) -> None:
    check_id = f"post-as-get.get-{name}-405"
    assert_verdict(run_check(check_id), Verdict.PASS)
    get = path_contains(GET_PATHS[name], "GET")
    # Boulder-style: the resource served to an unauthenticated GET.
    assert_verdict(run_check(check_id, accept(get, status=200)), Verdict.FAIL, "405")
    assert_verdict(run_check(check_id, problem(get, 405, "unauthorized")), Verdict.FAIL, "malformed")


def test_405_has_allow_header(run_check: CheckRunner) -> None:
    assert_verdict(run_check("post-as-get.405-has-allow-header"), Verdict.PASS)
    no_allow = set_header(path_contains("/order-plz", "GET"), "Allow", None)
    assert_verdict(run_check("post-as-get.405-has-allow-header", no_allow), Verdict.FAIL, "Allow")
    everything_404 = problem(lambda r: r.method == "GET" and "/dir" not in r.url.path, 404, "malformed")
    assert_verdict(run_check("post-as-get.405-has-allow-header", everything_404), Verdict.SKIP)


FETCH_PATHS = {k: GET_PATHS[k] for k in ("account", "orders-list", "order", "authorization", "challenge",
                                          "certificate")}


@pytest.mark.parametrize("name", sorted(FETCH_PATHS))
def test_post_as_get_returns_resource(run_check: CheckRunner, name: str) -> None:
    check_id = f"post-as-get.{name}-returns-resource"
    assert_verdict(run_check(check_id), Verdict.PASS)
    post = path_contains(FETCH_PATHS[name], "POST")
    assert_verdict(run_check(check_id, in_check_only(problem(post, 405, "malformed"))), Verdict.FAIL, "HTTP 200")

    def empty(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        return rebuild(response, content=b"[]") if post(request) else response

    assert_verdict(run_check(check_id, in_check_only(empty)), Verdict.FAIL, name)


def test_other_account_refused(run_check: CheckRunner) -> None:
    result = run_check("post-as-get.other-account-refused")
    assert_verdict(result, Verdict.PASS)
    # Pebble answers another account's URL with the requester's own account: noted, no leak.
    assert any("requester's own account" in note for note in result.notes)
    for fragment in ("/my-order/", "/authZ/", "/chalZ/"):
        leak = in_check_only(accept(path_contains(fragment, "POST"), status=200))
        assert_verdict(run_check("post-as-get.other-account-refused", leak), Verdict.FAIL, "served to a second")


def test_other_account_refused_fails_when_owner_account_leaks(run_check: CheckRunner) -> None:
    """A server that answers the owner's account object to a stranger leaks it."""
    owner: dict = {}

    def leak(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        recorder = current_recorder()
        in_fixture = recorder is not None and recorder.owner.startswith("fixture:")
        if in_fixture and "/sign-me-up" in request.url.path and response.status_code == 201 and not owner:
            owner.update(response.json())  # the shared issuance's account: the owner
        if not in_fixture and "/my-account/" in request.url.path and request.method == "POST" and owner:
            return rebuild(response, status=200, content=json.dumps(owner).encode(),
                           headers={"Content-Type": "application/json"})
        return response

    assert_verdict(run_check("post-as-get.other-account-refused", leak), Verdict.FAIL, "account ->")


def test_challenge_fetch_starts_no_validation(run_check: CheckRunner) -> None:
    assert_verdict(run_check("post-as-get.challenge-fetch-starts-no-validation"), Verdict.PASS)

    def processing(body: dict) -> dict:
        return {**body, "status": "processing"} if body.get("status") == "pending" else body

    post_as_get_challenge = lambda r: r.method == "POST" and "/chalZ/" in r.url.path and b'"payload":""' in r.content  # noqa: E731
    started = edit_json(post_as_get_challenge, processing)
    assert_verdict(run_check("post-as-get.challenge-fetch-starts-no-validation", started), Verdict.FAIL, "pending")


def test_account_fetch_no_side_effects(run_check: CheckRunner) -> None:
    assert_verdict(run_check("post-as-get.account-fetch-no-side-effects"), Verdict.PASS)
    deactivating = edit_json(path_contains("/my-account/", "POST"), lambda b: {**b, "status": "deactivated"})
    assert_verdict(run_check("post-as-get.account-fetch-no-side-effects", deactivating), Verdict.FAIL, "deactivated")
    unusable = problem(path_contains("/order-plz", "POST"), 401, "unauthorized")
    assert_verdict(run_check("post-as-get.account-fetch-no-side-effects", unusable), Verdict.FAIL, "201")
