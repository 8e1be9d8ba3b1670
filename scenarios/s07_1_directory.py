"""Directory (RFC 8555 §7.1.1, §6.3)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from conformance.acme import describe_response
from conformance.context import CheckContext
from conformance.judge import expect_json_object, expect_status, fail, media_type
from conformance.model import Informational
from conformance.recorder import noting
from conformance.registry import check, not_judged

META_TYPES: dict[str, type | tuple[type, ...]] = {
    "termsOfService": str,
    "website": str,
    "caaIdentities": list,
    "externalAccountRequired": bool,
    "profiles": dict,
}


def _fetch_directory(ctx: CheckContext) -> dict:
    with noting("GET the directory"):
        response = ctx.session.get(ctx.run.target.directory_url)
    expect_status(response, {200}, "GET directory")
    return expect_json_object(response, "GET directory")


@check(
    "directory.get-returns-json-object",
    title="GET on the directory returns 200 with a JSON object",
    section="RFC 8555 §7.1.1",
    level="MUST",
    requirements=["DIR-1"],
    sentence='The server MUST allow GET requests for the directory and newNonce resources (§6.3); '
    '"The directory object ... is a JSON object" (§7.1.1).',
    tags=["basic"],
)
def directory_get(ctx: CheckContext) -> None:
    with noting("GET the directory"):
        response = ctx.session.get(ctx.run.target.directory_url)
    expect_status(response, {200}, "GET directory")
    expect_json_object(response, "GET directory")
    if media_type(response) != "application/json":
        raise fail(
            "the directory is not served as application/json",
            expected="Content-Type: application/json",
            actual=f"Content-Type: {response.headers.get('Content-Type')}",
        )


@check(
    "directory.has-new-nonce",
    title="The directory provides newNonce (and the resources a client cannot work without)",
    section="RFC 8555 §7.1.1",
    level="MUST",
    requirements=["DIR-2"],
    sentence='The server MUST provide "directory" and "newNonce" resources.',
    tags=["basic"],
)
def directory_has_new_nonce(ctx: CheckContext) -> None:
    directory = _fetch_directory(ctx)
    missing = [name for name in ("newNonce", "newAccount", "newOrder") if not isinstance(directory.get(name), str)]
    if missing:
        raise fail(
            "the directory lacks required resources",
            expected="string URLs for newNonce, newAccount and newOrder",
            actual="missing: " + ", ".join(missing),
        )
    for optional in ("revokeCert", "keyChange"):
        if optional not in directory:
            ctx.note(f"the directory has no {optional} (allowed: the RFC does not make it mandatory)")


@check(
    "directory.meta-member-types",
    title="meta, when present, is an object whose defined members have the RFC's types",
    section="RFC 8555 §7.1.1",
    level="MUST",
    requirements=["DIR-4"],
    sentence="meta (optional, object): Metadata relating to the service provided by the ACME server. "
    "termsOfService (optional, string) ... website (optional, string) ... caaIdentities (optional, array of "
    "string) ... externalAccountRequired (optional, boolean).",
    tags=["basic"],
)
def directory_meta_types(ctx: CheckContext) -> None:
    directory = _fetch_directory(ctx)
    if "meta" not in directory:
        ctx.note("the directory has no meta object (optional)")
        return
    meta = directory["meta"]
    if not isinstance(meta, dict):
        raise fail("meta is not a JSON object", expected="object", actual=type(meta).__name__)
    wrong = []
    for name, wanted in META_TYPES.items():
        if name in meta and not isinstance(meta[name], wanted):
            wrong.append(f"{name} is {type(meta[name]).__name__}")
    if isinstance(meta.get("caaIdentities"), list) and not all(isinstance(v, str) for v in meta["caaIdentities"]):
        wrong.append("caaIdentities has a non-string entry")
    terms = meta.get("termsOfService")
    if isinstance(terms, str) and not urlsplit(terms).scheme:
        wrong.append(f"termsOfService {terms!r} is not an absolute URL")
    website = meta.get("website")
    if isinstance(website, str) and urlsplit(website).scheme not in ("http", "https"):
        wrong.append(f"website {website!r} is not an HTTP or HTTPS URL")
    if wrong:
        raise fail("meta members have the wrong type", expected="the types of RFC 8555 §7.1.1", actual="; ".join(wrong))


@check(
    "directory.resources-are-https-urls",
    title="Every directory resource is an absolute https URL",
    section="RFC 8555 §7.1.1",
    level="REQUIRED",
    requirements=["DIR-6", "GEN-1"],
    sentence="ACME servers ... [use] HTTPS; each directory field other than meta is a URL (§7.1.1); "
    "the use of HTTPS is REQUIRED (§6.1).",
    tags=["basic"],
)
def directory_resource_urls(ctx: CheckContext) -> None:
    directory = _fetch_directory(ctx)
    bad = []
    for name, value in directory.items():
        if name == "meta":
            continue
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme != "https" or not parts.netloc:
            bad.append(f"{name}={value!r}")
    if bad:
        raise fail("directory resources that are not absolute https URLs", expected="https://... for every resource",
                   actual=", ".join(bad))


@check(
    "directory.new-authz-works-when-advertised",
    title="An advertised newAuthz resource accepts pre-authorization requests",
    section="RFC 8555 §7.1.1",
    level="MUST",
    requirements=["DIR-3"],
    sentence="If the ACME server does not implement pre-authorization (Section 7.4.1), it MUST omit the "
    '"newAuthz" field of the directory.',
    tags=["account"],
)
def new_authz_advertised(ctx: CheckContext) -> None:
    url = ctx.require_resource("newAuthz")
    account = ctx.new_account()
    identifier = {"type": "dns", "value": ctx.new_domain("preauth")}
    with noting("newAuthz (pre-authorization) request"):
        response = ctx.session.signed(url, {"identifier": identifier}, account)
    if response.status_code in _NOT_IMPLEMENTED:
        raise fail("newAuthz is advertised but not implemented", expected="201 with an authorization "
                   "(or omit newAuthz from the directory)", actual=describe_response(response))
    if response.status_code != 201:
        ctx.note(f"newAuthz refused this identifier: {describe_response(response)} (may be policy)")


_NOT_IMPLEMENTED = frozenset({404, 405, 500, 501})


@check(
    "directory.caa-identities-are-hostnames",
    title="meta.caaIdentities entries are bare CAA issuer domain names",
    section="RFC 8555 §7.1.1",
    level="MUST",
    requirements=["DIR-5"],
    sentence="caaIdentities (optional, array of string): The hostnames that the ACME server recognizes as "
    'referring to itself for the purposes of CAA record validation as defined in [RFC6844]. Each string MUST '
    'represent the same sequence of ASCII code points that the server will expect to see as the "Issuer Domain '
    'Name" in a CAA issue or issuewild property tag.',
    tags=["basic"],
)
def caa_identities(ctx: CheckContext) -> None:
    directory = _fetch_directory(ctx)
    meta = directory.get("meta")
    identities = meta.get("caaIdentities") if isinstance(meta, dict) else None
    if identities is None:
        ctx.note("the directory has no meta.caaIdentities (optional)")
        return
    if not isinstance(identities, list):
        raise fail("caaIdentities is not an array", expected="array of strings", actual=type(identities).__name__)
    bad = [repr(value) for value in identities if not (isinstance(value, str) and _HOSTNAME.match(value))]
    if bad:
        raise fail("caaIdentities entries that are not bare domain names", expected="e.g. \"letsencrypt.org\" "
                   "(ASCII LDH labels, no scheme or path)", actual=", ".join(bad))


_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$")


@check(
    "directory.post-as-get-allowed",
    title="POST-as-GET of the directory returns 200 and the same directory object",
    section="RFC 8555 §6.3",
    level="MUST",
    requirements=["DIR-7"],
    sentence="The server MUST allow GET requests for the directory and newNonce resources (see Section 7.1), in "
    "addition to POST-as-GET requests for these resources.",
    tags=["account"],
)
def directory_post_as_get(ctx: CheckContext) -> None:
    directory = _fetch_directory(ctx)
    account = ctx.new_account()
    with noting("POST-as-GET of the directory"):
        response = ctx.session.post_as_get(ctx.run.target.directory_url, account)
    expect_status(response, {200}, "POST-as-GET of the directory")
    body = expect_json_object(response, "POST-as-GET of the directory")
    # Compare the resources and meta only: servers may add a random member on every fetch (Boulder
    # and acme2certifier do, to keep clients from hard-coding the directory's shape).
    wanted, got = _resources_and_meta(directory, body), _resources_and_meta(body, directory)
    if got != wanted:
        differing = sorted(k for k in set(got) | set(wanted) if got.get(k) != wanted.get(k))
        raise fail("POST-as-GET returns another object than GET", expected="the same directory object",
                   actual="differs in: " + ", ".join(differing))


_DEFINED_MEMBERS = frozenset({"newNonce", "newAccount", "newOrder", "newAuthz", "revokeCert", "keyChange",
                              "renewalInfo", "meta"})


def _resources_and_meta(directory: dict, other: dict) -> dict:
    """The members to compare: the defined ones, and any other member both fetches have (a member
    present in only one fetch and defined nowhere is the random entry some servers add)."""
    return {k: v for k, v in directory.items() if k in _DEFINED_MEMBERS or k in other}


@check(
    "directory.url-distinct",
    title="The directory URL differs from every resource URL it lists",
    section="RFC 8555 §7.1.1",
    level="descr.",
    requirements=["DIR-8"],
    sentence="ACME servers provide a directory object. This should be the only URL needed to configure clients. "
    "(A lower-case should: information only.)",
    tags=["basic"],
)
def directory_url_distinct(ctx: CheckContext) -> None:
    directory = _fetch_directory(ctx)
    own = ctx.run.target.directory_url
    same = [name for name, value in directory.items() if name != "meta" and value == own]
    if same:
        raise Informational("a resource shares the directory's URL", expected="distinct URLs",
                            actual=", ".join(same))


not_judged("DIR-9", "the directory may or may not carry Link rel=index; neither is an error, so there is nothing "
           "to judge")
