"""Certificate revocation (RFC 8555 §7.6)."""

from __future__ import annotations

from conformance.context import CheckContext
from conformance.judge import expect_status
from conformance.jws import AccountKey
from conformance.recorder import noting
from conformance.registry import check


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
