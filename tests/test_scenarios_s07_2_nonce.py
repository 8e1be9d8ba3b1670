"""Fail/pass proofs for the newNonce checks (scenarios/s07_2_nonce.py)."""

from __future__ import annotations

import itertools

from conftest import CheckRunner, assert_verdict
from faults import chain, path_contains, rebuild, set_header, set_status

from conformance.model import Verdict

NONCE = path_contains("nonce", "HEAD", "GET")
HEAD_NONCE = path_contains("nonce", "HEAD")
GET_NONCE = path_contains("nonce", "GET")


def test_head_has_replay_nonce(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.head-has-replay-nonce"), Verdict.PASS)
    missing = set_header(HEAD_NONCE, "Replay-Nonce", None)
    assert_verdict(run_check("nonce.head-has-replay-nonce", missing), Verdict.FAIL, "Replay-Nonce")
    padded = set_header(HEAD_NONCE, "Replay-Nonce", "abc+def==")
    assert_verdict(run_check("nonce.head-has-replay-nonce", padded), Verdict.FAIL, "base64url")


def test_head_returns_200(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.head-returns-200"), Verdict.PASS)
    # A SHOULD: breaking it is a WARN, never a FAIL.
    assert_verdict(run_check("nonce.head-returns-200", set_status(HEAD_NONCE, 204)), Verdict.WARN, "204")


def test_get_returns_204(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.get-returns-204"), Verdict.PASS)
    assert_verdict(run_check("nonce.get-returns-204", set_status(GET_NONCE, 200)), Verdict.FAIL, "HTTP 204")

    def with_body(request, response):  # type: ignore[no-untyped-def]
        return rebuild(response, content=b"nonce") if GET_NONCE(request) else response

    assert_verdict(run_check("nonce.get-returns-204", with_body), Verdict.FAIL, "empty body")
    assert_verdict(run_check("nonce.get-returns-204", set_header(GET_NONCE, "Replay-Nonce", None)), Verdict.FAIL,
                   "Replay-Nonce")


def test_cache_control_no_store(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 sends "public, max-age=0, no-cache": a real deviation (see baselines/pebble/s07_2_nonce.toml).
    assert_verdict(run_check("nonce.cache-control-no-store"), Verdict.FAIL, "no-cache")
    fixed = set_header(NONCE, "Cache-Control", "no-store")
    assert_verdict(run_check("nonce.cache-control-no-store", fixed), Verdict.PASS)
    # no-store on HEAD only: GET must be judged too.
    head_only = chain(set_header(NONCE, "Cache-Control", "no-cache"), set_header(HEAD_NONCE, "Cache-Control", "no-store"))
    assert_verdict(run_check("nonce.cache-control-no-store", head_only), Verdict.FAIL, "GET newNonce")


def test_post_as_get_returns_nonce(run_check: CheckRunner) -> None:
    assert_verdict(run_check("nonce.post-as-get-returns-nonce"), Verdict.PASS)
    post_nonce = path_contains("nonce", "POST")
    assert_verdict(run_check("nonce.post-as-get-returns-nonce", set_header(post_nonce, "Replay-Nonce", None)),
                   Verdict.FAIL, "Replay-Nonce")
    assert_verdict(run_check("nonce.post-as-get-returns-nonce", set_status(post_nonce, 405)), Verdict.FAIL, "refused")


def test_unique_values(run_check: CheckRunner) -> None:
    result = run_check("nonce.unique-values")
    assert_verdict(result, Verdict.PASS)
    constant = set_header(HEAD_NONCE, "Replay-Nonce", "c2FtZS1ub25jZS1ldmVyeS10aW1l")
    assert_verdict(run_check("nonce.unique-values", constant), Verdict.FAIL, "repeated")
    counter = itertools.count()

    def short(request, response):  # type: ignore[no-untyped-def]
        return rebuild(response, headers={"Replay-Nonce": f"n{next(counter)}"}) if HEAD_NONCE(request) else response

    assert_verdict(run_check("nonce.unique-values", short), Verdict.WARN, "bytes")
