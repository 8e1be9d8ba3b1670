"""Protocol history, recognised: remnants of pre-RFC ACME (the "v1" drafts) reported as what they are.

A server speaking the draft protocol breaks RFC 8555 in ways that would otherwise show up only as a
crash or a confusing set-up error; these checks name the remnant: the v1 directory (new-reg, new-authz,
new-cert, revoke-cert), the urn:acme:error: namespace, "combinations" in authorizations, the retired
tls-sni-01/02 challenges, and the legacy challenge response body.
"""

from __future__ import annotations

from conformance.acme import describe_response, json_or_none, problem_type, provision_challenge
from conformance.context import CheckContext
from conformance.judge import expect_json_object, fail
from conformance.model import Informational, Warned
from conformance.recorder import noting
from conformance.registry import check
from conformance.responders.base import Identifier, key_authorization
from scenarios._validation import challenge_in, new_authz, wait_authz

V1_RESOURCES = ("new-reg", "new-authz", "new-cert", "revoke-cert", "key-change")
V2_REQUIRED = ("newNonce", "newAccount", "newOrder")
DRAFT_PREFIX = "urn:acme:error:"
RETIRED_CHALLENGES = ("tls-sni-01", "tls-sni-02")


@check(
    "history.acme-v1-directory",
    title="The directory is an RFC 8555 directory, not a pre-RFC ACME v1 one (new-reg, new-authz, new-cert, ...)",
    section="RFC 8555 §7.1.1",
    level="MUST",
    requirements=["DIR-2"],
    sentence='The server MUST provide "directory" and "newNonce" resources. (The ACME v1 drafts named the '
    'resources "new-reg", "new-authz", "new-cert" and "revoke-cert" and had no newNonce.)',
    tags=["basic", "history"],
)
def history_v1_directory(ctx: CheckContext) -> None:
    with noting("GET the directory"):
        response = ctx.session.get(ctx.run.target.directory_url)
    directory = expect_json_object(response, "GET directory")
    v1 = [name for name in V1_RESOURCES if name in directory]
    missing = [name for name in V2_REQUIRED if not isinstance(directory.get(name), str)]
    if v1 and missing:
        raise fail("this is a pre-RFC ACME v1 (draft) directory: the server speaks the old protocol, which RFC 8555 "
                   "clients cannot use", expected="RFC 8555 resources: " + ", ".join(V2_REQUIRED),
                   actual=f"ACME v1 resources {', '.join(v1)}; missing {', '.join(missing)}")
    if v1:
        raise Warned("the RFC 8555 directory also carries pre-RFC ACME v1 resources (harmless to RFC 8555 clients)",
                     expected="no ACME v1 resource names", actual=", ".join(v1))


def _error_responses(ctx: CheckContext):  # type: ignore[no-untyped-def]
    account = ctx.new_account()
    with noting("newOrder with no identifiers (an error to look at)"):
        yield ctx.session.new_order_request(account, [])
    with noting("POST-as-GET with a nonce that was never issued (an error to look at)"):
        yield ctx.session.post_as_get(account.url, account, nonce="bm90LWEtbm9uY2UtZnJvbS10aGlzLXNlcnZlcg",
                                      retry_bad_nonce=False)


@check(
    "history.problem-type-namespace",
    title="ACME errors use the urn:ietf:params:acme:error: namespace, not the draft-era urn:acme:error:",
    section="RFC 8555 §6.7",
    level="descr.",
    requirements=["ERR-2"],
    sentence='This document defines the following standard tokens for use in the "type" field (within the ACME '
    'URN namespace "urn:ietf:params:acme:error:").',
    tags=["account", "history"],
)
def history_problem_namespace(ctx: CheckContext) -> None:
    for response in _error_responses(ctx):
        ptype = problem_type(response)
        if ptype is not None and ptype.startswith(DRAFT_PREFIX):
            raise fail("the server uses the pre-RFC ACME v1 error namespace urn:acme:error:",
                       expected="urn:ietf:params:acme:error:" + ptype[len(DRAFT_PREFIX):],
                       actual=describe_response(response))


@check(
    "history.no-combinations",
    title='Authorizations do not carry the pre-RFC "combinations" field',
    section="RFC 8555 §7.1.4",
    level="descr.",
    requirements=["AZ-1"],
    sentence="challenges (required, array of objects): ... A client should attempt to fulfill one of these "
    'challenges, and a server should consider any one of the challenges sufficient (RFC 8555 replaced the drafts\' '
    '"combinations").',
    tags=["account", "history"],
)
def history_combinations(ctx: CheckContext) -> None:
    _, _, url, authz = new_authz(ctx)
    if "combinations" in authz:
        raise Informational('the authorization carries the pre-RFC ACME v1 "combinations" field; RFC 8555 clients '
                            "ignore it (any one challenge suffices)", actual=f"{url}: combinations "
                            f"{authz['combinations']!r}")


@check(
    "history.no-retired-tls-sni",
    title="No authorization offers the retired, insecure tls-sni-01/tls-sni-02 challenges",
    section="RFC 8737 §1",
    level="descr.",
    requirements=["AZ-5"],
    sentence="Early ACME drafts specified two TLS-based challenge types: TLS-SNI-01 and TLS-SNI-02. These methods "
    "were removed because they relied on assumptions about the deployed base of HTTPS hosting providers that "
    "proved to be incorrect.",
    tags=["account", "history"],
)
def history_tls_sni(ctx: CheckContext) -> None:
    _, _, url, authz = new_authz(ctx)
    offered = [c.get("type") for c in authz.get("challenges") or [] if isinstance(c, dict)]
    retired = [t for t in offered if t in RETIRED_CHALLENGES]
    if retired:
        raise fail("the authorization offers a retired, insecure TLS-SNI challenge (withdrawn in 2018; tls-alpn-01, "
                   "RFC 8737, replaces it)", expected="no tls-sni-01/02", actual=f"{url}: {', '.join(retired)}")


@check(
    "history.legacy-challenge-body",
    title='A legacy ACME v1 challenge response body (type, keyAuthorization, resource) is treated like {}',
    section="RFC 8555 §7.5.1",
    level="MUST",
    requirements=["CH-4"],
    sentence="The server MUST ignore any fields in the response object that are not specified as response fields "
    "for this type of challenge. Note that the challenges in this document do not define any response fields.",
    tags=["account", "validation", "history"],
)
def history_legacy_body(ctx: CheckContext) -> None:
    ctx.require_challenge_type("http-01")
    account, _, url, authz = new_authz(ctx)
    challenge = challenge_in(authz, "http-01")
    token = str(challenge.get("token"))
    keyauth = key_authorization(token, account.key.thumbprint())
    ident = Identifier(str(authz["identifier"]["type"]), str(authz["identifier"]["value"]))
    provision_challenge(ctx.backend, "http-01", ident, token, keyauth)
    legacy = {"type": "http-01", "keyAuthorization": keyauth, "resource": "challenge"}
    with noting("answer the challenge with the ACME v1 body"):
        response = ctx.session.signed(str(challenge.get("url")), legacy, account)
    if response.status_code != 200:
        raise fail("the legacy (ACME v1) challenge body was refused instead of its fields being ignored",
                   expected="HTTP 200, validation as for {}", actual=describe_response(response))
    final = wait_authz(ctx, account, url)
    if final.get("status") != "valid":
        raise fail("validation did not succeed after the legacy body", expected="valid",
                   actual=repr(final.get("status")))
    body = json_or_none(response)
    if isinstance(body, dict) and "keyAuthorization" in body:
        ctx.note("the challenge object echoes keyAuthorization (a pre-RFC field)")
