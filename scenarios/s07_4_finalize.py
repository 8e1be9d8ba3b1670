"""Finalize (RFC 8555 §7.4, §6.1, §11.1): orderNotReady, badCSR variants, the order's status after a
rejected finalize, and the successful path (200 with the order, then valid with a certificate).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conformance.acme import Order
from conformance.context import CheckContext
from conformance.csr import corrupt_csr_signature, make_csr
from conformance.judge import expect_json_object, expect_problem, expect_rejected, expect_status, fail
from conformance.model import CouldNotTest, Informational
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._orders import (
    current,
    download,
    invalid_order,
    is_success,
    load_chain,
    make_custom_csr,
    names_issued_for,
    order_names,
    pending_order,
    ready_order,
    settle,
    sha1_signed_csr,
    short_type,
)

_NOT_READY_SENTENCE = (
    "A request to finalize an order will result in error if the order is not in the \"ready\" state. In such "
    "cases, the server MUST return a 403 (Forbidden) error with a problem document of type \"orderNotReady\"."
)
_BADCSR_SENTENCE = (
    "In such cases, the problem document returned by the server SHOULD use error code \"badCSR\" and describe "
    "specific reasons the CSR was rejected in its \"detail\" field."
)


def _finalize(ctx: CheckContext, order: Order, csr_der: bytes, what: str) -> httpx.Response:
    with noting(what):
        return ctx.session.finalize_request(order, csr_der)


def _finalize_payload(ctx: CheckContext, order: Order, payload: Any, what: str) -> httpx.Response:
    with noting(what):
        return ctx.session.signed(str(order.body["finalize"]), payload, order.account)


def _names(order: Order) -> list[str]:
    return order_names(order)


# -- orderNotReady --------------------------------------------------------------------------------


@check(
    "finalize.pending-order-not-ready",
    title="Finalizing a pending order answers 403 orderNotReady and leaves it pending",
    section="RFC 8555 §7.4",
    level="MUST",
    requirements=["FIN-1"],
    sentence=_NOT_READY_SENTENCE,
    tags=["account"],
)
def pending_not_ready(ctx: CheckContext) -> None:
    order = pending_order(ctx)
    csr_der, _ = make_csr(_names(order))
    response = _finalize(ctx, order, csr_der, "finalize the pending order")
    expect_problem(response, ["orderNotReady"], "finalize of a pending order", statuses={403})
    status = current(ctx, order).get("status")
    if status != "pending":
        raise fail("the refused finalize changed the order's status", expected="pending", actual=repr(status))


@check(
    "finalize.valid-order-not-ready",
    title="Finalizing an order that is already valid answers 403 orderNotReady",
    section="RFC 8555 §7.4",
    level="MUST",
    requirements=["FIN-2"],
    sentence=_NOT_READY_SENTENCE,
    tags=["account", "validation", "issuance"],
)
def valid_not_ready(ctx: CheckContext) -> None:
    issuance = ctx.issue("http-01")
    csr_der, _ = make_csr([i.value for i in issuance.identifiers])
    response = _finalize(ctx, issuance.order, csr_der, "finalize the valid order again")
    expect_problem(response, ["orderNotReady"], "second finalize of a valid order", statuses={403})


@check(
    "finalize.invalid-order-not-ready",
    title="Finalizing an invalid order answers 403 orderNotReady",
    section="RFC 8555 §7.4",
    level="MUST",
    requirements=["FIN-2"],
    sentence=_NOT_READY_SENTENCE,
    tags=["account", "validation"],
)
def invalid_not_ready(ctx: CheckContext) -> None:
    order = invalid_order(ctx)
    csr_der, _ = make_csr(_names(order))
    response = _finalize(ctx, order, csr_der, "finalize the invalid order")
    expect_problem(response, ["orderNotReady"], "finalize of an invalid order", statuses={403})


# -- CSRs that do not match the order ---------------------------------------------------------------


def _extra_name_csr(ctx: CheckContext, order: Order) -> bytes:
    return make_custom_csr([*_names(order), ctx.new_domain("extra")])[0]


def _missing_name_csr(ctx: CheckContext, order: Order) -> bytes:
    return make_custom_csr(_names(order)[:1])[0]


@check(
    "finalize.csr-extra-name-badcsr",
    title="A CSR with a name the order does not hold is refused with badCSR",
    section="RFC 8555 §7.4",
    level="SHOULD",
    requirements=["FIN-3"],
    sentence="A request to finalize an order will result in an error if the CA is unwilling to issue a "
    "certificate corresponding to the submitted CSR. For example: If the CSR and order identifiers differ ... "
    + _BADCSR_SENTENCE,
    tags=["account", "validation"],
)
def extra_name_badcsr(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    response = _finalize(ctx, order, _extra_name_csr(ctx, order), "finalize with an extra SAN")
    expect_rejected(response, "finalize with a CSR naming an extra identifier")
    expect_problem(response, ["badCSR"], "finalize with a CSR naming an extra identifier")


@check(
    "finalize.csr-missing-name-badcsr",
    title="A CSR that leaves out one of the order's names is refused with badCSR",
    section="RFC 8555 §7.4",
    level="SHOULD",
    requirements=["FIN-4"],
    sentence="The CSR MUST indicate the exact same set of requested identifiers as the initial newOrder "
    "request. ... If the CSR and order identifiers differ ... " + _BADCSR_SENTENCE,
    tags=["account", "validation"],
)
def missing_name_badcsr(ctx: CheckContext) -> None:
    order = ready_order(ctx, identifiers=ctx.new_identifiers(2))
    response = _finalize(ctx, order, _missing_name_csr(ctx, order), "finalize with one name left out")
    expect_rejected(response, "finalize with a CSR missing an identifier")
    expect_problem(response, ["badCSR"], "finalize with a CSR missing an identifier")


@check(
    "finalize.csr-extra-name-in-cn-rejected",
    title="A CSR whose subject commonName is a name the order does not hold is refused",
    section="RFC 8555 §7.4",
    level="descr.",
    requirements=["FIN-3"],
    sentence="Identifiers of type \"dns\" MUST appear either in the commonName portion of the requested subject "
    "name or in an extensionRequest attribute [RFC2985] requesting a subjectAltName extension, or both. ... A "
    "request to finalize an order will result in an error if ... the CSR and order identifiers differ",
    tags=["account", "validation", "issuance"],
)
def extra_name_in_cn(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    foreign = ctx.new_domain("cn")
    csr_der, _ = make_custom_csr(_names(order), common_name=foreign)
    response = _finalize(ctx, order, csr_der, "finalize with a foreign commonName")
    if is_success(response):
        raise fail("a CSR naming another identifier in its commonName was accepted",
                   expected="an error (badCSR): the CSR's identifiers differ from the order's",
                   actual=f"HTTP {response.status_code}; CSR commonName {foreign!r} is not in the order")


@check(
    "finalize.order-ready-after-rejected-csr",
    title="After a CSR is refused for its names, the order is still ready",
    section="RFC 8555 §7.4",
    level="SHOULD",
    requirements=["FIN-3", "FIN-4"],
    sentence="After returning such an error, the server SHOULD leave the order in the \"ready\" state, to allow "
    "the client to submit a new finalize request with an amended CSR.",
    tags=["account", "validation"],
)
def ready_after_rejected(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    response = _finalize(ctx, order, _extra_name_csr(ctx, order), "finalize with an extra SAN")
    if is_success(response):
        raise CouldNotTest(f"the server accepted a CSR with an extra name (HTTP {response.status_code}); "
                           "judged by finalize.csr-extra-name-badcsr")
    status = current(ctx, order).get("status")
    if status != "ready":
        raise fail("the order left ready after a rejected CSR", expected="ready", actual=repr(status))


# -- CSRs with bad keys or signatures -------------------------------------------------------------


@check(
    "finalize.csr-account-key-rejected",
    title="A CSR carrying the account's own public key is refused",
    section="RFC 8555 §11.1",
    level="MUST",
    requirements=["FIN-5", "SEC-3"],
    sentence="In particular, when a server receives a finalize request, it MUST verify that the public key in a "
    "CSR is not the same as the public key of the account key pair used to authenticate that request.",
    tags=["account", "validation"],
)
def account_key_rejected(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    private = order.account.key.private_key  # ES256 by default: usable as a CSR key too
    if not isinstance(private, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CouldNotTest("the account key type cannot sign a CSR here")
    csr_der, _ = make_custom_csr(_names(order), key=private)
    response = _finalize(ctx, order, csr_der, "finalize with the account key in the CSR")
    expect_rejected(response, "finalize with the account's public key in the CSR")
    ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")


@check(
    "finalize.csr-bad-signature-rejected",
    title="A CSR whose signature does not verify is refused",
    section="RFC 8555 §7.4",
    level="descr.",
    requirements=["FIN-6"],
    sentence="A request to finalize an order will result in an error if the CA is unwilling to issue a "
    "certificate corresponding to the submitted CSR. ... badCSR: The CSR is unacceptable",
    tags=["account", "validation"],
)
def bad_signature(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    csr_der, _ = make_csr(_names(order))
    response = _finalize(ctx, order, corrupt_csr_signature(csr_der), "finalize with a corrupted CSR signature")
    if is_success(response):
        raise fail("a CSR with a broken signature (no proof of possession of its key) was accepted",
                   expected="an error (badCSR)", actual=f"HTTP {response.status_code}")
    ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")


@check(
    "finalize.csr-weak-rsa-key",
    title="A CSR with a 1024-bit RSA key is refused (what is strong enough is CA policy)",
    section="RFC 8555 §10.5",
    level="descr.",
    requirements=["FIN-6"],
    sentence="Is the key in the CSR sufficiently strong? ... badCSR: The CSR is unacceptable (e.g., due to a "
    "short key)",
    tags=["account", "validation", "policy"],
)
def weak_rsa_key(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    csr_der, _ = make_custom_csr(_names(order), key=weak)
    response = _finalize(ctx, order, csr_der, "finalize with a 1024-bit RSA key")
    if is_success(response):
        # Appendix B of the catalogue: accepted key sizes are the CA's choice, never a failure.
        raise Informational("the server accepts a 1024-bit RSA key in a CSR (CA policy)",
                            actual=f"HTTP {response.status_code}")
    expect_rejected(response, "finalize with a 1024-bit RSA key")
    ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")


@check(
    "finalize.csr-sha1-signature",
    title="A CSR signed with SHA-1 is refused (which algorithms are acceptable is CA policy)",
    section="RFC 8555 §10.5",
    level="descr.",
    requirements=["FIN-6"],
    sentence="Is the CSR signed with an acceptable algorithm? ... badCSR: The CSR is unacceptable",
    tags=["account", "validation", "policy"],
)
def sha1_signature(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    response = _finalize(ctx, order, sha1_signed_csr(_names(order)), "finalize with a sha1WithRSAEncryption CSR")
    if is_success(response):
        raise Informational("the server accepts a SHA-1 signed CSR (CA policy)", actual=f"HTTP {response.status_code}")
    expect_rejected(response, "finalize with a SHA-1 signed CSR")
    ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")


# -- the csr field's encoding -----------------------------------------------------------------------


_SIXONE = ("Trailing '=' characters MUST be stripped. Encoded values that include trailing '=' characters "
           "MUST be rejected as improperly encoded.")
_CSR_FIELD = ("csr (required, string): A CSR encoding the parameters for the certificate being requested "
              "[RFC2986]. The CSR is sent in the base64url-encoded version of the DER format. (Note: Because this "
              "field uses base64url, and does not include headers, it is different from PEM.)")
# variant -> (level, section, sentence)
_ENCODINGS: dict[str, tuple[str, str, str]] = {
    "pem": ("MUST", "RFC 8555 §7.4", _CSR_FIELD),
    "standard-base64": ("MUST", "RFC 8555 §7.4", _CSR_FIELD),
    "padded": ("MUST", "RFC 8555 §6.1", _SIXONE),
    "missing": ("REQUIRED", "RFC 8555 §7.4", _CSR_FIELD),
    "not-string": ("REQUIRED", "RFC 8555 §7.4", _CSR_FIELD),
}


def _encoded_payload(variant: str, names: list[str]) -> dict[str, Any]:
    """The finalize payload for ``variant``: a good CSR, wrongly encoded (or no csr at all)."""
    for _ in range(64):  # a fresh CSR until its encoding shows the property the variant needs
        der, _ = make_csr(names)
        std = base64.b64encode(der).decode()
        if variant == "pem":
            return {"csr": x509.load_der_x509_csr(der).public_bytes(serialization.Encoding.PEM).decode()}
        if variant == "standard-base64" and ("+" in std or "/" in std):
            return {"csr": std.rstrip("=")}  # only the alphabet is wrong, not the padding
        if variant == "padded" and std.endswith("="):
            return {"csr": base64.urlsafe_b64encode(der).decode()}
        if variant == "missing":
            return {}
        if variant == "not-string":
            return {"csr": 42}
    raise CouldNotTest(f"could not make a CSR whose encoding shows the {variant} property")


def _register_encoding(variant: str) -> None:
    level, section, sentence = _ENCODINGS[variant]

    @check(
        f"finalize.csr-encoding-{variant}-rejected",
        title=f"A finalize whose csr is {variant.replace('-', ' ')} is refused",
        section=section,
        level=level,
        requirements=["FIN-7"],
        sentence=sentence,
        tags=["account", "validation"],
    )
    def encoding(ctx: CheckContext) -> None:
        order = ready_order(ctx)
        payload = _encoded_payload(variant, _names(order))
        response = _finalize_payload(ctx, order, payload, f"finalize with csr {variant}")
        expect_rejected(response, f"finalize with csr {variant}")
        ctx.note(f"rejected with HTTP {response.status_code} {short_type(response)}")

    encoding.__name__ = f"csr_encoding_{variant.replace('-', '_')}"


for _variant in _ENCODINGS:
    _register_encoding(_variant)


# -- CSR shapes the CA may handle as policy -----------------------------------------------------------


@check(
    "finalize.cn-only-csr",
    title="A commonName-only CSR is either refused (policy) or yields a certificate for exactly that name",
    section="RFC 8555 §7.4",
    level="MUST NOT",
    requirements=["FIN-8"],
    sentence="Identifiers of type \"dns\" MUST appear either in the commonName portion of the requested subject "
    "name or in an extensionRequest attribute [RFC2985] requesting a subjectAltName extension, or both. ... it "
    "MUST NOT issue a certificate with contents other than those requested.",
    tags=["account", "validation", "issuance", "policy"],
)
def cn_only_csr(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    name = _names(order)[0]
    csr_der, _ = make_custom_csr(None, common_name=name)
    response = _finalize(ctx, order, csr_der, "finalize with a commonName-only CSR")
    if not is_success(response):
        raise Informational("the server requires the names in subjectAltName (allowed CA policy)",
                            actual=f"HTTP {response.status_code} {short_type(response)}")
    settle(ctx, order)
    issued = names_issued_for(ctx, order)
    if issued is None:
        raise CouldNotTest(f"the order became {order.status!r} after an accepted finalize")
    if issued - {name.lower()} or name.lower() not in issued:
        raise fail("the certificate for a commonName-only CSR certifies other names", expected=name,
                   actual=", ".join(sorted(issued)))


@check(
    "finalize.csr-ca-extension-not-honoured",
    title="A CSR asking for basicConstraints cA=TRUE is refused or yields a non-CA certificate",
    section="RFC 8555 §7.4",
    level="SHOULD",
    requirements=["FIN-11"],
    sentence="A request to finalize an order will result in an error if the CA is unwilling to issue a "
    "certificate corresponding to the submitted CSR. For example: ... If the CSR requests extensions that the "
    "CA is not willing to include",
    tags=["account", "validation", "issuance"],
)
def ca_extension(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    csr_der, _ = make_custom_csr(_names(order),
                                 extensions=[(x509.BasicConstraints(ca=True, path_length=None), True)])
    response = _finalize(ctx, order, csr_der, "finalize with a cA=TRUE request")
    if not is_success(response):
        ctx.note(f"refused with HTTP {response.status_code} {short_type(response)}")
        return
    final = settle(ctx, order)
    url = final.get("certificate")
    if final.get("status") != "valid" or not isinstance(url, str):
        ctx.note(f"the order became {final.get('status')!r}: no certificate issued")
        return
    chain = load_chain(download(ctx, url, order.account).content)
    if not chain:
        raise CouldNotTest("the certificate could not be downloaded or parsed")
    try:
        constraints = chain[0].extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return
    if constraints.ca:
        raise fail("the server issued a CA certificate because the CSR asked for one",
                   expected="a refusal (badCSR) or an end-entity certificate", actual="basicConstraints cA=TRUE")


# -- the successful path ----------------------------------------------------------------------------


@check(
    "finalize.success-returns-order",
    title="A successful finalize answers 200 with the order, processing or valid",
    section="RFC 8555 §7.4",
    level="descr.",
    requirements=["FIN-9"],
    sentence="If a request to finalize an order is successful, the server will return a 200 (OK) with an "
    "updated order object. The status of the order will indicate what action the client should take",
    tags=["account", "validation"],
)
def success_returns_order(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    csr_der, _ = make_csr(_names(order))
    response = _finalize(ctx, order, csr_der, "finalize")
    expect_status(response, {200}, "finalize")
    body = expect_json_object(response, "finalize response")
    status = body.get("status")
    if status not in ("processing", "valid", "ready", "pending", "invalid"):
        raise fail("the finalize response is not an order object", expected="an order with a status",
                   actual=repr(body)[:200])
    if status not in ("processing", "valid"):
        raise fail("a successful finalize left the order in an unexpected state",
                   expected="processing or valid", actual=repr(status))
    if status == "valid" and not isinstance(body.get("certificate"), str):
        raise fail("the finalize response says valid without a certificate URL", expected="certificate URL",
                   actual="no certificate member")


@check(
    "finalize.order-becomes-valid-with-certificate",
    title="After finalize the order reaches valid with a certificate URL, and has none before",
    section="RFC 8555 §7.1.6",
    level="descr.",
    requirements=["FIN-10"],
    sentence="Once the certificate is issued, the order enters the \"valid\" state. ... \"valid\": The server "
    "has issued the certificate and provisioned its URL to the \"certificate\" field of the order.",
    tags=["account", "validation", "issuance"],
)
def becomes_valid(ctx: CheckContext) -> None:
    order = ready_order(ctx)
    if "certificate" in order.body:
        raise fail("a ready order already has a certificate", expected="no certificate before valid",
                   actual=repr(order.body["certificate"]))
    csr_der, _ = make_csr(_names(order))
    response = _finalize(ctx, order, csr_der, "finalize")
    expect_status(response, {200}, "finalize")
    body = expect_json_object(response, "finalize response")
    if body.get("status") != "valid" and "certificate" in body:
        raise fail(f"a {body.get('status')} order already has a certificate", expected="no certificate before valid",
                   actual=repr(body["certificate"]))
    final = settle(ctx, order)
    if final.get("status") != "valid":
        raise fail("the order did not become valid after a successful finalize", expected="valid",
                   actual=repr(final.get("status")))
    url = final.get("certificate")
    if not isinstance(url, str):
        raise fail("the valid order has no certificate URL", expected="certificate (string)", actual=repr(url))
    if not load_chain(download(ctx, url, order.account).content):
        raise fail("the certificate URL of the valid order does not give a certificate chain",
                   expected="a PEM certificate chain", actual="nothing parseable")


not_judged("FIN-12", "needs a CA that stops issuing a profile an order asked for (draft-ietf-acme-profiles); "
           "Pebble 2.4.0 offers no profiles and a fixed server cannot be made to stop one")
