"""Fail/pass proofs for the JWS checks (scenarios/s06_2_jws.py).

Each rejection check PASSes on Pebble (which rejects the broken request) and FAILs behind a hook
that makes exactly that broken request succeed. Where Pebble itself deviates, the proof is the
reverse: FAIL on Pebble, PASS behind a hook that gives the answer the RFC asks for.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import CheckRunner, assert_verdict
from faults import edit_json, path_contains, replace_with
from faults_jws import accept, body_where, jws_where, problem

from conformance.jws import b64url_decode
from conformance.model import Verdict
from conformance.registry import get_check

ORDER = "/order-plz"
ACCOUNT = "/sign-me-up"

# check id -> the broken request a lax server would accept (exactly the defect the check sends)
REJECTION_CASES = {
    "jws.compact-serialization-rejected": body_where(lambda b: isinstance(b, bytes) and b.count(b".") == 2, ORDER),
    "jws.general-serialization-rejected": body_where(lambda b: isinstance(b, dict) and "signatures" in b, ORDER),
    "jws.multiple-signatures-rejected": body_where(
        lambda b: isinstance(b, dict) and len(b.get("signatures", [])) == 2, ORDER),
    "jws.unprotected-header-rejected": body_where(lambda b: isinstance(b, dict) and "header" in b, ORDER),
    "jws.unencoded-payload-rejected": jws_where(lambda h: h.get("b64") is False, ORDER),
    "jws.detached-payload-rejected": body_where(lambda b: isinstance(b, dict) and "payload" not in b, ORDER),
    "jws.alg-none-rejected": jws_where(lambda h: h.get("alg") == "none", ACCOUNT),
    "jws.alg-mac-rejected": jws_where(lambda h: h.get("alg") == "HS256", ACCOUNT),
    "jws.key-type-mismatch-rejected": jws_where(lambda h: h.get("alg") == "ES256" and h["jwk"]["kty"] == "RSA", ACCOUNT),
    "jws.jwk-and-kid-rejected": jws_where(lambda h: "jwk" in h and "kid" in h, ORDER),
    "jws.kid-on-new-account-rejected": jws_where(lambda h: "kid" in h, ACCOUNT),
    "jws.jwk-on-new-order-rejected": jws_where(lambda h: "jwk" in h, ORDER),
    "jws.jwk-on-post-as-get-rejected": jws_where(lambda h: "jwk" in h, "/my-account/"),
    "jws.unknown-kid-rejected": path_contains(ORDER, "POST"),
    "jws.missing-alg-rejected": jws_where(lambda h: "alg" not in h, ORDER),
    "jws.missing-url-rejected": jws_where(lambda h: "url" not in h, ORDER),
    "jws.missing-key-rejected": jws_where(lambda h: "kid" not in h and "jwk" not in h, ORDER),
    "jws.corrupt-signature-rejected": path_contains(ORDER, "POST"),
    "jws.wrong-key-signature-rejected": path_contains(ORDER, "POST"),
    "jws.url-only-unprotected-rejected": jws_where(lambda h: "url" not in h, ORDER),
    "jws.url-not-string-rejected": jws_where(lambda h: not isinstance(h.get("url"), str), ORDER),
    "jws.payload-not-json-rejected": path_contains(ORDER, "POST"),
    "jws.unknown-crit-rejected": jws_where(lambda h: "crit" in h, ORDER),
    "jws.duplicate-header-member-rejected": path_contains(ORDER, "POST"),
    "jws.empty-body-rejected": body_where(lambda b: b == b"", ORDER),
    "jws.body-not-json-rejected": body_where(lambda b: isinstance(b, bytes) and b.startswith(b"this is not"), ORDER),
    "jws.body-json-array-rejected": body_where(lambda b: isinstance(b, list), ORDER),
}


@pytest.mark.parametrize("check_id", sorted(REJECTION_CASES))
def test_rejection_checks(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)
    # graded by the check's level: FAIL for MUST/MUST NOT, WARN for the descriptive ones
    graded = get_check(check_id).level.failure_verdict
    assert_verdict(run_check(check_id, accept(REJECTION_CASES[check_id])), graded, "not rejected")


def test_duplicate_url_last_wins_is_allowed(run_check: CheckRunner) -> None:
    """A last-wins parser (RFC 7515 §4 allows it) may accept the variant whose last url is the right one."""

    def last_url_right(request) -> bool:  # type: ignore[no-untyped-def]
        if request.method != "POST" or ORDER not in request.url.path:
            return False
        text = b64url_decode(json.loads(request.content)["protected"]).decode()
        urls = re.findall(r'"url":"([^"]*)"', text)
        return len(urls) == 2 and urls[-1] == str(request.url)

    result = run_check("jws.duplicate-header-member-rejected", accept(last_url_right))
    assert_verdict(result, Verdict.PASS)
    assert any("last-wins" in note for note in result.notes)


@pytest.mark.parametrize("check_id", ["jws.content-type-json-415", "jws.content-type-missing-415"])
def test_content_type_415(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)
    as_400 = problem(path_contains(ORDER, "POST"), 400, "malformed")
    assert_verdict(run_check(check_id, as_400), Verdict.FAIL, "HTTP 415")


def test_unsupported_alg(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 answers malformed without "algorithms" (baselines/pebble/s06_2_jws.toml).
    assert_verdict(run_check("jws.unsupported-alg-bad-signature-algorithm"), Verdict.FAIL, "badSignatureAlgorithm")
    unusual = jws_where(lambda h: h.get("alg") in ("PS512", "RS512", "PS384", "RS384", "PS256"), ACCOUNT)
    fixed = problem(unusual, 400, "badSignatureAlgorithm", algorithms=["ES256", "RS256"])
    assert_verdict(run_check("jws.unsupported-alg-bad-signature-algorithm", fixed), Verdict.PASS)
    no_list = problem(unusual, 400, "badSignatureAlgorithm")
    assert_verdict(run_check("jws.unsupported-alg-bad-signature-algorithm", no_list), Verdict.FAIL, "algorithms")
    empty = problem(unusual, 400, "badSignatureAlgorithm", algorithms=[])
    assert_verdict(run_check("jws.unsupported-alg-bad-signature-algorithm", empty), Verdict.FAIL, "algorithms")
    everything = accept(unusual)
    assert_verdict(run_check("jws.unsupported-alg-bad-signature-algorithm", everything), Verdict.SKIP)


def test_es256_accepted(run_check: CheckRunner) -> None:
    assert_verdict(run_check("jws.es256-accepted"), Verdict.PASS)
    refused = problem(jws_where(lambda h: h.get("alg") == "ES256", ACCOUNT), 400, "badSignatureAlgorithm")
    assert_verdict(run_check("jws.es256-accepted", refused), Verdict.FAIL, "HTTP 200 or 201")


def test_eddsa_accepted(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 has no Ed25519 support: a SHOULD, so WARN (baseline).
    assert_verdict(run_check("jws.eddsa-accepted"), Verdict.WARN, "badPublicKey")
    eddsa = jws_where(lambda h: h.get("alg") == "EdDSA", ACCOUNT)
    assert_verdict(run_check("jws.eddsa-accepted", accept(eddsa)), Verdict.PASS)


@pytest.mark.parametrize("check_id", ["jws.off-curve-key-bad-public-key", "jws.curve-mismatch-bad-public-key"])
def test_bad_public_key(run_check: CheckRunner, check_id: str) -> None:
    # Pebble 2.4.0 answers malformed (baseline).
    assert_verdict(run_check(check_id), Verdict.FAIL, "badPublicKey")
    new_account = path_contains(ACCOUNT, "POST")
    assert_verdict(run_check(check_id, problem(new_account, 400, "badPublicKey")), Verdict.PASS)
    assert_verdict(run_check(check_id, problem(new_account, 403, "badPublicKey")), Verdict.FAIL, "HTTP 400")
    assert_verdict(run_check(check_id, accept(new_account)), Verdict.FAIL)


def test_curve_mismatch_bad_signature_algorithm_accepted(run_check: CheckRunner) -> None:
    hook = problem(path_contains(ACCOUNT, "POST"), 400, "badSignatureAlgorithm", algorithms=["ES256"])
    result = run_check("jws.curve-mismatch-bad-public-key", hook)
    assert_verdict(result, Verdict.PASS)
    assert any("badSignatureAlgorithm" in note for note in result.notes)


def test_small_rsa_key(run_check: CheckRunner) -> None:
    result = run_check("jws.small-rsa-key-bad-public-key")
    assert_verdict(result, Verdict.PASS)  # Pebble accepts 1024-bit RSA: its policy
    assert any("1024-bit" in note for note in result.notes)
    rs256 = jws_where(lambda h: h.get("alg") == "RS256", ACCOUNT)
    assert_verdict(run_check("jws.small-rsa-key-bad-public-key", problem(rs256, 400, "badPublicKey")), Verdict.PASS)
    assert_verdict(run_check("jws.small-rsa-key-bad-public-key", problem(rs256, 400, "malformed")), Verdict.FAIL,
                   "badPublicKey")


def test_url_mismatch(run_check: CheckRunner) -> None:
    # Pebble 2.4.0 answers malformed: a softer finding (WARN, baseline).
    assert_verdict(run_check("jws.url-mismatch-unauthorized"), Verdict.WARN, "unauthorized")
    order = path_contains(ORDER, "POST")
    as_unauthorized = edit_json(order, lambda body: {**body, "type": "urn:ietf:params:acme:error:unauthorized"})
    assert_verdict(run_check("jws.url-mismatch-unauthorized", as_unauthorized), Verdict.PASS)
    assert_verdict(run_check("jws.url-mismatch-unauthorized", accept(order)), Verdict.FAIL, "not rejected")


def test_url_string_equality(run_check: CheckRunner) -> None:
    assert_verdict(run_check("jws.url-string-equality"), Verdict.PASS)
    normalising = accept(jws_where(lambda h: str(h.get("url", "")).endswith("?x"), ORDER))
    assert_verdict(run_check("jws.url-string-equality", normalising), Verdict.WARN, "added query")
    crash = replace_with(path_contains(ORDER, "POST"), 500, {"type": "urn:ietf:params:acme:error:serverInternal"})
    assert_verdict(run_check("jws.url-string-equality", crash), Verdict.WARN, "4xx")


def test_unknown_member_ignored(run_check: CheckRunner) -> None:
    assert_verdict(run_check("jws.unknown-member-ignored"), Verdict.PASS)
    strict = problem(body_where(lambda b: isinstance(b, dict) and "x-acme-conformance" in b, ORDER), 400, "malformed")
    assert_verdict(run_check("jws.unknown-member-ignored", strict), Verdict.WARN, "unknown extra member")
