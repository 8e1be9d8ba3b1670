"""Directory (RFC 8555 §7.1.1, §6.3)."""

from __future__ import annotations

from urllib.parse import urlsplit

from conformance.context import CheckContext
from conformance.judge import expect_json_object, expect_status, fail, media_type
from conformance.recorder import noting
from conformance.registry import check

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
