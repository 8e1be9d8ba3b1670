"""Certificate revocation (RFC 8555 §7.6)."""

from __future__ import annotations

import datetime
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conformance.acme import PROBLEM_PREFIX, Account, Issuance, SetupFailed, describe_response, problem_type
from conformance.context import CheckContext
from conformance.judge import expect_problem, expect_rejected, expect_status, fail
from conformance.jws import AccountKey, b64url
from conformance.recorder import noting
from conformance.registry import check, not_judged
from conformance.responders.base import Identifier


@check(
    "revocation.by-account-key",
    title="The issuing account can revoke its certificate (200)",
    section="RFC 8555 §7.6",
    level="descr.",
    requirements=["REV-1"],
    sentence="If the revocation succeeds, the server responds with status code 200 (OK).",
    tags=["account", "validation", "issuance", "destructive"],
)
def revoke_by_account(ctx: CheckContext) -> None:
    issuance = ctx.issue("http-01")
    with noting("revoke with the account key (kid)"):
        response = ctx.session.revoke_request(issuance.leaf_der, account=issuance.account)
    expect_status(response, {200}, "revokeCert signed by the issuing account")


@check(
    "revocation.by-certificate-key",
    title="A request signed with the certificate's own key (jwk) revokes it (200)",
    section="RFC 8555 §7.6",
    level="MUST",
    requirements=["REV-4"],
    sentence="The server MUST also consider a revocation request valid if it is signed with the private key "
    "corresponding to the public key in the certificate.",
    tags=["account", "validation", "issuance", "destructive"],
)
def revoke_by_certificate_key(ctx: CheckContext) -> None:
    issuance = ctx.issue("http-01")
    with noting("revoke with the certificate's key (jwk)"):
        response = ctx.session.revoke_request(issuance.leaf_der, cert_key=AccountKey(issuance.cert_key))
    expect_status(response, {200}, "revokeCert signed by the certificate key")


# -- reasons, refusals and the other authorized parties (REV-2, REV-3, REV-5 .. REV-10) -----------------

_REVOKE_TAGS = ["account", "validation", "issuance", "destructive"]
_UNUSED_REASON = 7  # RFC 5280 §5.3.1: value 7 is not used


def _revoke(ctx: CheckContext, issuance: Issuance, what: str, **kwargs: Any) -> httpx.Response:
    with noting(what):
        return ctx.session.revoke_request(issuance.leaf_der, **({"account": issuance.account} | kwargs))


def _is_problem(response: httpx.Response, *types: str) -> bool:
    return problem_type(response) in {PROBLEM_PREFIX + t for t in types}


@check(
    "revocation.reason-codes",
    title="reason 0..10 is accepted or refused with badRevocationReason; 7, 99 and -1 are refused",
    section="RFC 8555 §7.6",
    level="MUST",
    requirements=["REV-3"],
    sentence="The server MAY disallow a subset of reasonCodes from being used by the user. If a request contains a "
    'disallowed reasonCode, then the server MUST reject it with the error type '
    '"urn:ietf:params:acme:error:badRevocationReason".',
    tags=_REVOKE_TAGS,
    timeout=60.0,
)
def revoke_reason_codes(ctx: CheckContext) -> None:
    account = ctx.new_account()
    issuance = ctx.issue("http-01", account=account)
    accepted, refused = [], []
    for reason in [r for r in range(11) if r != _UNUSED_REASON]:
        response = _revoke(ctx, issuance, f"revoke with reason {reason}", reason=reason)
        if response.status_code == 200:
            accepted.append(reason)
            issuance = ctx.issue("http-01", account=account)  # that certificate is gone: take a new one
        elif _is_problem(response, "badRevocationReason"):
            refused.append(reason)
        else:
            raise fail(f"reason {reason} was refused without badRevocationReason",
                       expected="HTTP 200, or the badRevocationReason problem type",
                       actual=describe_response(response))
    for reason, allowed in ((_UNUSED_REASON, ("badRevocationReason",)), (99, ("badRevocationReason", "malformed")),
                            (-1, ("badRevocationReason", "malformed"))):
        response = _revoke(ctx, issuance, f"revoke with reason {reason}", reason=reason)
        if not _is_problem(response, *allowed) or response.status_code < 400:
            raise fail(f"reason {reason} (not a reasonCode RFC 5280 allows) was not refused as it should be",
                       expected=" or ".join(allowed), actual=describe_response(response))
    ctx.note(f"accepted reasons: {accepted}; refused by policy: {refused or 'none'}")


not_judged("REV-2", "needs the server's OCSP responder or CRL to read reasonCode entries; a black-box run "
           "cannot rely on either being offered (Pebble offers neither)")


def _authorize(ctx: CheckContext, account: Account, identifiers: list[Identifier]) -> None:
    """``account`` obtains valid authorizations for ``identifiers`` (an order it validates, not finalizes)."""
    order = ctx.session.create_order(account, identifiers)
    ctx.session.validate_order(order, "http-01", ctx.backend)


@check(
    "revocation.by-authorized-account",
    title="An account holding authorizations for all the certificate's names may revoke it",
    section="RFC 8555 §7.6",
    level="MUST",
    requirements=["REV-5"],
    sentence="The server MUST consider at least the following accounts authorized for a given certificate: the "
    "account that issued the certificate. an account that holds authorizations for all of the identifiers in the "
    "certificate.",
    tags=_REVOKE_TAGS + ["two-accounts"],
)
def revoke_by_authorized_account(ctx: CheckContext) -> None:
    issuance = ctx.issue("http-01")
    other = ctx.new_account()
    _authorize(ctx, other, issuance.identifiers)
    response = _revoke(ctx, issuance, "revoke by another account that holds authorizations for every name",
                       account=other)
    expect_status(response, {200}, "revocation by an account authorized for all names")


@check(
    "revocation.unrelated-account-refused",
    title="An account with no authorization for the names cannot revoke another account's certificate",
    section="RFC 8555 §7.6",
    level="MUST",
    requirements=["REV-6"],
    sentence="Before revoking a certificate, the server MUST verify that the key used to sign the request is "
    "authorized to revoke the certificate.",
    tags=["account", "two-accounts", "validation", "issuance", "destructive"],
)
def revoke_by_unrelated_account(ctx: CheckContext) -> None:
    issuance = ctx.issue("http-01")
    stranger = ctx.new_account()
    response = _revoke(ctx, issuance, "revoke by an unrelated account", account=stranger)
    expect_rejected(response, "revocation by an unrelated account")
    after = _revoke(ctx, issuance, "the owner revokes it afterwards (it must still be unrevoked)")
    if after.status_code != 200:
        raise fail("after the refused attempt, the owner could not revoke the certificate",
                   expected="HTTP 200 (the certificate was still valid)", actual=describe_response(after))


@check(
    "revocation.already-revoked",
    title="Revoking a certificate a second time gives 400 alreadyRevoked",
    section="RFC 8555 §7.6",
    level="descr.",
    requirements=["REV-7"],
    sentence="For example, if the certificate has already been revoked, the server returns an error response with "
    'status code 400 (Bad Request) and type "urn:ietf:params:acme:error:alreadyRevoked".',
    tags=_REVOKE_TAGS,
)
def revoke_twice(ctx: CheckContext) -> None:
    issuance = ctx.issue("http-01")
    first = _revoke(ctx, issuance, "revoke the certificate")
    expect_status(first, {200}, "first revocation")
    second = _revoke(ctx, issuance, "revoke it again")
    expect_problem(second, ["alreadyRevoked"], "second revocation of the same certificate", statuses={400})


def _foreign_certificate_der(names: list[str]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@check(
    "revocation.unknown-certificate",
    title="Revoking a certificate the CA never issued, or a certificate field that is not DER, is an error",
    section="RFC 8555 §7.6",
    level="descr.",
    requirements=["REV-8"],
    sentence="If the revocation fails, the server returns an error.",
    tags=["account"],
)
def revoke_unknown(ctx: CheckContext) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("revokeCert")
    bogus = {
        "a certificate this CA never issued": b64url(_foreign_certificate_der([ctx.new_domain()])),
        "a certificate field that is not DER": b64url(b"not a certificate"),
        "PEM text instead of base64url DER": "-----BEGIN CERTIFICATE-----",
    }
    for what, value in bogus.items():
        with noting(f"revoke {what}"):
            response = ctx.session.signed(url, {"certificate": value}, account)
        expect_rejected(response, f"revocation of {what}")
        if problem_type(response) is None:
            raise fail(f"the refusal of {what} is not a problem document", expected="a problem document",
                       actual=describe_response(response))


@check(
    "revocation.deactivated-account-refused",
    title="A deactivated account's revocation request is refused with 401 unauthorized",
    section="RFC 8555 §7.3.6",
    level="MUST",
    requirements=["REV-9"],
    sentence="If a server receives a POST or POST-as-GET from a deactivated account, it MUST return an error "
    'response with status code 401 (Unauthorized) and type "urn:ietf:params:acme:error:unauthorized".',
    tags=_REVOKE_TAGS,
)
def revoke_by_deactivated_account(ctx: CheckContext) -> None:
    issuance = ctx.issue("http-01")
    with noting("deactivate the issuing account"):
        response = ctx.session.signed(issuance.account.url, {"status": "deactivated"}, issuance.account)
    if response.status_code != 200:
        raise SetupFailed(f"account deactivation failed ({describe_response(response)})")
    refused = _revoke(ctx, issuance, "revoke with the deactivated account")
    expect_problem(refused, ["unauthorized"], "revocation by a deactivated account", statuses={401})


@check(
    "revocation.wrong-jwk-refused",
    title="revokeCert signed with a jwk that is neither the certificate key nor an authorized account is refused",
    section="RFC 8555 §7.6",
    level="MUST",
    requirements=["REV-10"],
    sentence="Before revoking a certificate, the server MUST verify that the key used to sign the request is "
    "authorized to revoke the certificate.",
    tags=_REVOKE_TAGS,
)
def revoke_wrong_jwk(ctx: CheckContext) -> None:
    issuance = ctx.issue("http-01")
    stranger = AccountKey.generate("ES256")
    response = _revoke(ctx, issuance, "revoke signed with an unrelated jwk", account=None, cert_key=stranger)
    expect_rejected(response, "revocation signed with an unrelated key")
    expect_status(_revoke(ctx, issuance, "the owner revokes it"), {200}, "revocation by the owner afterwards")
    again = _revoke(ctx, issuance, "an unrelated jwk on the revoked certificate", account=None, cert_key=stranger)
    expect_rejected(again, "revocation of a revoked certificate with an unrelated key")
    ctx.note(f"an unrelated key on an already revoked certificate gets: {describe_response(again)} "
             "(the RFC does not say whether authorization or alreadyRevoked is checked first)")
