"""dns-01 (RFC 8555 §8.4): the TXT lookup the validator makes and which records validate.

The DNS responder records every query, so the checks see the name and type the server asked for.
"""

from __future__ import annotations

import hashlib

from conformance.context import CheckContext
from conformance.judge import fail
from conformance.registry import check, not_judged
from conformance.responders.base import Identifier, dns01_txt_value
from scenarios._validation import attempt, builtin, expect_failed, expect_valid

_VAL = ["account", "validation"]
_FAILED_TYPES = {"dns", "unauthorized", "incorrectResponse"}


def _txt_queries(ctx: CheckContext, domain: str) -> list[str]:
    name = "_acme-challenge." + domain.lower()
    return [q.qtype for q in builtin(ctx).dns.queries() if q.qname == name]


@check(
    "dns01.txt-lookup",
    title="dns-01 validation queries TXT _acme-challenge.{domain} and a matching record validates",
    section="RFC 8555 §8.4",
    level="descr.",
    requirements=["D01-1"],
    sentence='The client constructs the validation domain name by prepending the label "_acme-challenge" to the '
    "domain name being validated, then provisions a TXT record with the digest value under that name. ... the "
    "server ... Query for TXT records for the validation domain name. Verify that the contents of one of the TXT "
    "records match the digest value.",
    tags=_VAL,
)
def dns01_txt_lookup(ctx: CheckContext) -> None:
    builtin(ctx)
    result = attempt(ctx, "dns-01")
    expect_valid(result, "a correct TXT record")
    domain = str(result.authz["identifier"]["value"])
    if "TXT" not in _txt_queries(ctx, domain):
        raise fail("the authorization became valid without a TXT query for the validation name",
                   expected=f"TXT _acme-challenge.{domain}", actual=", ".join(_txt_queries(ctx, domain)) or "no query")


@check(
    "dns01.one-of-several-records",
    title="Among several TXT records, one matching record is enough",
    section="RFC 8555 §8.4",
    level="descr.",
    requirements=["D01-2"],
    sentence="Verify that the contents of one of the TXT records match the digest value.",
    tags=_VAL,
)
def dns01_one_of_several(ctx: CheckContext) -> None:
    responders = builtin(ctx)

    def provision(identifier: Identifier, _token: str, keyauth: str) -> None:
        responders.add_dns01(identifier.value, dns01_txt_value("decoy." + keyauth))
        responders.add_dns01(identifier.value, dns01_txt_value(keyauth))
        responders.add_dns01(identifier.value, "not-a-digest")

    expect_valid(attempt(ctx, "dns-01", provision=provision), "one matching TXT record among three")


@check(
    "dns01.wrong-record-fails",
    title="No TXT record, or one with a wrong digest (hex, padded), makes the validation fail",
    section="RFC 8555 §8.4",
    level="descr.",
    requirements=["D01-3"],
    sentence="Verify that the contents of one of the TXT records match the digest value. If all of the above "
    'verifications succeed, then the validation is successful. If no DNS record is found, or DNS record and '
    "response payload do not pass these checks, then the validation fails.",
    tags=_VAL,
)
def dns01_wrong_record(ctx: CheckContext) -> None:
    responders = builtin(ctx)
    cases = {
        "no TXT record": lambda keyauth: None,
        "a hex digest": lambda keyauth: hashlib.sha256(keyauth.encode()).hexdigest(),
        "a padded base64url digest": lambda keyauth: dns01_txt_value(keyauth) + "=",
    }
    for what, value in cases.items():
        def provision(identifier: Identifier, _token: str, keyauth: str, make=value) -> None:  # type: ignore[no-untyped-def]
            txt = make(keyauth)
            if txt is not None:
                responders.add_dns01(identifier.value, txt)

        expect_failed(attempt(ctx, "dns-01", provision=provision), _FAILED_TYPES, what)


@check(
    "dns01.wildcard-base-name",
    title="A wildcard order's dns-01 record is looked up under the base domain",
    section="RFC 8555 §8.4",
    level="descr.",
    requirements=["D01-4"],
    sentence='The client constructs the validation domain name by prepending the label "_acme-challenge" to the '
    "domain name being validated (for a wildcard, the authorization's identifier is the base domain, §7.1.3).",
    tags=_VAL,
)
def dns01_wildcard(ctx: CheckContext) -> None:
    builtin(ctx)
    base = ctx.new_domain("wild")
    result = attempt(ctx, "dns-01", identifiers=[Identifier("dns", "*." + base)])
    expect_valid(result, "the wildcard's dns-01 record")
    if "TXT" not in _txt_queries(ctx, base):
        raise fail("the wildcard was validated without a TXT query under the base domain",
                   expected=f"TXT _acme-challenge.{base}", actual="no such query")


not_judged("D01-5", "TCP and DNSSEC are properties of the CA's resolver deployment; in a lab the server "
           "queries the tester's responder directly, so the outcome says nothing about production")
