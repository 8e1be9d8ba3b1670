"""Fail/pass proofs for the directory checks (scenarios/s07_1_directory.py)."""

from __future__ import annotations

from conftest import CheckRunner, assert_verdict
from faults import edit_json, path_contains, set_header

from conformance.model import Verdict

DIR = path_contains("/dir", "GET")


def test_get_returns_json_object(run_check: CheckRunner) -> None:
    assert_verdict(run_check("directory.get-returns-json-object"), Verdict.PASS)
    wrong_type = set_header(DIR, "Content-Type", "text/html")
    assert_verdict(run_check("directory.get-returns-json-object", wrong_type), Verdict.FAIL, "application/json")
    array = edit_json(DIR, lambda body: [body])
    assert_verdict(run_check("directory.get-returns-json-object", array), Verdict.FAIL, "JSON object")


def test_has_new_nonce(run_check: CheckRunner) -> None:
    result = run_check("directory.has-new-nonce")
    assert_verdict(result, Verdict.PASS)

    def drop_nonce(body: dict) -> dict:
        body.pop("newNonce")
        return body

    assert_verdict(run_check("directory.has-new-nonce", edit_json(DIR, drop_nonce)), Verdict.FAIL, "newNonce")


def test_meta_member_types(run_check: CheckRunner) -> None:
    assert_verdict(run_check("directory.meta-member-types"), Verdict.PASS)

    def bad_eab_flag(body: dict) -> dict:
        body["meta"]["externalAccountRequired"] = "no"
        return body

    assert_verdict(run_check("directory.meta-member-types", edit_json(DIR, bad_eab_flag)), Verdict.FAIL,
                   "externalAccountRequired")

    def ftp_website(body: dict) -> dict:
        body["meta"]["website"] = "ftp://example.com/"
        return body

    assert_verdict(run_check("directory.meta-member-types", edit_json(DIR, ftp_website)), Verdict.FAIL, "website")


def test_resources_are_https_urls(run_check: CheckRunner) -> None:
    assert_verdict(run_check("directory.resources-are-https-urls"), Verdict.PASS)

    def plain_http(body: dict) -> dict:
        body["newOrder"] = body["newOrder"].replace("https://", "http://")
        return body

    assert_verdict(run_check("directory.resources-are-https-urls", edit_json(DIR, plain_http)), Verdict.FAIL,
                   "newOrder")
