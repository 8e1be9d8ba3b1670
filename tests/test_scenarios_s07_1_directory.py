"""Fail/pass proofs for the directory checks (scenarios/s07_1_directory.py)."""

from __future__ import annotations

from conftest import CheckRunner, assert_verdict
from faults import chain, edit_json, path_contains, replace_with, set_header, set_status

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


def test_new_authz_works_when_advertised(run_check: CheckRunner, harness) -> None:  # type: ignore[no-untyped-def]
    # Pebble does not advertise newAuthz: nothing to judge.
    assert_verdict(run_check("directory.new-authz-works-when-advertised"), Verdict.SKIP)
    base = harness.target.directory_url.rsplit("/", 1)[0]

    def advertise(body: dict) -> dict:
        body["newAuthz"] = base + "/new-authz"
        return body

    advertised = edit_json(DIR, advertise)  # Pebble answers 404 there: advertised but not implemented
    assert_verdict(run_check("directory.new-authz-works-when-advertised", advertised), Verdict.FAIL, "not implemented")
    working = chain(advertised, replace_with(path_contains("/new-authz", "POST"), 201, {"status": "pending"}))
    assert_verdict(run_check("directory.new-authz-works-when-advertised", working), Verdict.PASS)
    policy = chain(advertised, replace_with(path_contains("/new-authz", "POST"), 403,
                                            {"type": "urn:ietf:params:acme:error:rejectedIdentifier"}))
    assert_verdict(run_check("directory.new-authz-works-when-advertised", policy), Verdict.PASS)


def test_caa_identities_are_hostnames(run_check: CheckRunner) -> None:
    assert_verdict(run_check("directory.caa-identities-are-hostnames"), Verdict.PASS)

    def with_caa(values: list) -> object:
        def edit(body: dict) -> dict:
            body["meta"]["caaIdentities"] = values
            return body

        return edit_json(DIR, edit)

    assert_verdict(run_check("directory.caa-identities-are-hostnames", with_caa(["ca.example", "pki.example.org"])),
                   Verdict.PASS)
    assert_verdict(run_check("directory.caa-identities-are-hostnames", with_caa(["https://ca.example/"])),
                   Verdict.FAIL, "https://ca.example/")
    assert_verdict(run_check("directory.caa-identities-are-hostnames", with_caa(["ca.example", 7])), Verdict.FAIL, "7")


def test_post_as_get_allowed(run_check: CheckRunner) -> None:
    assert_verdict(run_check("directory.post-as-get-allowed"), Verdict.PASS)
    post_dir = path_contains("/dir", "POST")
    assert_verdict(run_check("directory.post-as-get-allowed", set_status(post_dir, 405)), Verdict.FAIL, "HTTP 200")
    other = edit_json(post_dir, lambda body: {**body, "newOrder": body["newOrder"] + "-other"})
    assert_verdict(run_check("directory.post-as-get-allowed", other), Verdict.FAIL, "newOrder")
    # A random member on every fetch (as Boulder and acme2certifier add) is not a difference...
    counter = iter(range(1000))
    random_member = edit_json(path_contains("/dir"), lambda body: {**body, f"r{next(counter)}": "https://x.example/"})
    assert_verdict(run_check("directory.post-as-get-allowed", random_member), Verdict.PASS)
    # ...but a defined resource missing from the POST-as-GET answer is.
    no_revoke = edit_json(post_dir, lambda body: {k: v for k, v in body.items() if k != "revokeCert"})
    assert_verdict(run_check("directory.post-as-get-allowed", no_revoke), Verdict.FAIL, "revokeCert")


def test_url_distinct(run_check: CheckRunner, harness) -> None:  # type: ignore[no-untyped-def]
    assert_verdict(run_check("directory.url-distinct"), Verdict.PASS)
    same = edit_json(DIR, lambda body: {**body, "newNonce": harness.target.directory_url})
    assert_verdict(run_check("directory.url-distinct", same), Verdict.INFO, "newNonce")
