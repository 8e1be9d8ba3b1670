"""Request authentication and URL integrity (RFC 8555 §6.2, §6.4, §6.4.1; RFC 7515).

One check per malformed variant: each request is correct except for exactly one defect, so a
rejection can be attributed to it. Where the RFC names no error type ("client-MUST, server
verifies"), any 4xx passes and the type is noted.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from conformance.acme import Account, describe_response, json_or_none, problem_type
from conformance.context import CheckContext
from conformance.judge import expect_problem, expect_rejected, expect_status, fail, full_type
from conformance.jws import AccountKey, JwsFault, b64url, b64url_decode, json_bytes
from conformance.model import Skipped, Warned
from conformance.recorder import noting
from conformance.registry import check
from scenarios._s06_raw import (
    body_of,
    broken_post,
    judge_rejected,
    order_payload,
    protected_for,
    raw_jws,
    send_raw,
    short_type,
)

_VERIFY = "The server MUST verify the JWS before processing the request (§6.2)."


def _new_order_with(ctx: CheckContext, fault: JwsFault, what: str, account: Account | None = None) -> httpx.Response:
    account = account or ctx.new_account()
    return broken_post(ctx, account, ctx.session.url_for("newOrder"), order_payload(ctx), fault, what)


def _new_account_with(ctx: CheckContext, key: AccountKey, what: str, **post_kwargs: Any) -> httpx.Response:
    """newAccount signed by ``key`` (jwk), bound by EAB when the server requires it; no badNonce retry."""
    post_kwargs.setdefault("retry_bad_nonce", False)
    with noting(what):
        return ctx.session.new_account_request(key, eab=ctx.run.account_binding(), **post_kwargs)


def _reject_new_order(ctx: CheckContext, fault: JwsFault, what: str) -> None:
    judge_rejected(ctx, _new_order_with(ctx, fault, what), what)


# -- serialization and media type (§6.2) ------------------------------------------------------


@check(
    "jws.content-type-json-415",
    title="A JWS POST with Content-Type application/json is answered 415",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-1"],
    sentence='they must have the Content-Type header field set to "application/jose+json". If a request does '
    "not meet this requirement, then the server MUST return a response with status code 415 (Unsupported "
    "Media Type).",
    tags=["account"],
)
def content_type_json(ctx: CheckContext) -> None:
    response = _new_order_with(ctx, JwsFault(content_type="application/json"), "newOrder as application/json")
    expect_status(response, {415}, "newOrder with Content-Type: application/json")


@check(
    "jws.content-type-missing-415",
    title="A JWS POST without Content-Type is answered 415",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-1"],
    sentence='they must have the Content-Type header field set to "application/jose+json". If a request does '
    "not meet this requirement, then the server MUST return a response with status code 415 (Unsupported "
    "Media Type).",
    tags=["account"],
)
def content_type_missing(ctx: CheckContext) -> None:
    response = _new_order_with(ctx, JwsFault(omit_content_type=True), "newOrder without Content-Type")
    expect_status(response, {415}, "newOrder without a Content-Type header")


@check(
    "jws.compact-serialization-rejected",
    title="A JWS in Compact Serialization is rejected",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-2"],
    sentence="The JWS MUST be in the Flattened JSON Serialization [RFC7515]. " + _VERIFY,
    tags=["account"],
)
def compact_rejected(ctx: CheckContext) -> None:
    _reject_new_order(ctx, JwsFault(serialization="compact"), "newOrder in compact serialization")


@check(
    "jws.general-serialization-rejected",
    title="A JWS in General JSON Serialization (one signature) is rejected",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-3"],
    sentence="The JWS MUST be in the Flattened JSON Serialization [RFC7515]. " + _VERIFY,
    tags=["account"],
)
def general_rejected(ctx: CheckContext) -> None:
    _reject_new_order(ctx, JwsFault(serialization="general"), "newOrder in general JSON serialization")


@check(
    "jws.multiple-signatures-rejected",
    title="A JWS with two signatures (account key and another key) is rejected",
    section="RFC 8555 §6.2",
    level="MUST NOT",
    requirements=["JWS-4"],
    sentence="The JWS MUST NOT have multiple signatures. " + _VERIFY,
    tags=["account"],
)
def multiple_signatures(ctx: CheckContext) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("newOrder")
    payload = order_payload(ctx)
    header = protected_for(ctx, account, url)
    first = json.loads(body_of(_flat(account.key, header, json_bytes(payload))))
    other = ctx.new_key()
    second_header = {"alg": other.alg, "jwk": other.public_jwk(), "nonce": header["nonce"], "url": url}
    second = _flat(other, second_header, json_bytes(payload))
    body = {
        "payload": first["payload"],
        "signatures": [
            {"protected": first["protected"], "signature": first["signature"]},
            {"protected": second["protected"], "signature": second["signature"]},
        ],
    }
    response = send_raw(ctx, url, json_bytes(body), "newOrder with two signatures", protected=header, payload=payload)
    judge_rejected(ctx, response, "a JWS with two signatures")


@check(
    "jws.unprotected-header-rejected",
    title="A JWS with an unprotected header member is rejected",
    section="RFC 8555 §6.2",
    level="MUST NOT",
    requirements=["JWS-5"],
    sentence="The JWS Unprotected Header [RFC7515] MUST NOT be used. " + _VERIFY,
    tags=["account"],
)
def unprotected_header(ctx: CheckContext) -> None:
    account = ctx.new_account()
    fault = JwsFault(unprotected={"kid": account.url})
    judge_rejected(ctx, _new_order_with(ctx, fault, "newOrder with an unprotected header", account),
                   "a JWS with an unprotected header")


@check(
    "jws.unencoded-payload-rejected",
    title='A JWS using the unencoded payload option ("b64": false) is rejected',
    section="RFC 8555 §6.2",
    level="MUST NOT",
    requirements=["JWS-6"],
    sentence="The JWS Unencoded Payload Option [RFC7797] MUST NOT be used. " + _VERIFY,
    tags=["account"],
)
def unencoded_payload(ctx: CheckContext) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("newOrder")
    payload = order_payload(ctx)
    header = {**protected_for(ctx, account, url), "b64": False, "crit": ["b64"]}
    protected_b64 = b64url(json_bytes(header))
    raw = json.dumps(payload, separators=(",", ":"))
    # RFC 7797 §3: the signing input is the protected header, '.', and the payload octets as they are,
    # so a server that implements b64=false would find this signature valid.
    signature = account.key.sign(protected_b64.encode("ascii") + b"." + raw.encode("utf-8"))
    body = {"protected": protected_b64, "payload": raw, "signature": b64url(signature)}
    response = send_raw(ctx, url, json_bytes(body), "newOrder with b64=false", protected=header, payload=payload)
    judge_rejected(ctx, response, "a JWS with an unencoded payload")


@check(
    "jws.detached-payload-rejected",
    title="A JWS without a payload member (detached content) is rejected",
    section="RFC 8555 §6.2",
    level="MUST NOT",
    requirements=["JWS-7"],
    sentence="The JWS Payload MUST NOT be detached. " + _VERIFY,
    tags=["account"],
)
def detached_payload(ctx: CheckContext) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("newOrder")
    payload = order_payload(ctx)
    header = protected_for(ctx, account, url)
    jws = _flat(account.key, header, json_bytes(payload))
    del jws["payload"]  # the signature still covers the payload: detached content (RFC 7515 Appendix F)
    response = send_raw(ctx, url, json_bytes(jws), "newOrder with a detached payload", protected=header,
                        payload=payload)
    judge_rejected(ctx, response, "a JWS with a detached payload")


def _flat(key: AccountKey, header: dict[str, Any], payload: bytes) -> dict[str, str]:
    return raw_jws(key, json_bytes(header), payload)


# -- algorithms and keys (§6.2) --------------------------------------------------------------


@check(
    "jws.alg-none-rejected",
    title='newAccount with alg "none" is rejected',
    section="RFC 8555 §6.2",
    level="MUST NOT",
    requirements=["JWS-8"],
    sentence='"alg" (Algorithm): This field MUST NOT contain "none" or a Message Authentication Code (MAC) '
    "algorithm.",
    tags=["basic"],
)
def alg_none(ctx: CheckContext) -> None:
    fault = JwsFault(header_set={"alg": "none"}, signature=b"")
    response = _new_account_with(ctx, ctx.new_key(), 'newAccount with alg "none"', fault=fault)
    _judge_bad_alg(ctx, response, 'alg "none"')


@check(
    "jws.alg-mac-rejected",
    title="newAccount with a MAC algorithm (HS256 with an octet jwk) is rejected",
    section="RFC 8555 §6.2",
    level="MUST NOT",
    requirements=["JWS-9"],
    sentence='"alg" (Algorithm): This field MUST NOT contain "none" or a Message Authentication Code (MAC) '
    "algorithm (e.g. one in which the algorithm registry description mentions MAC/HMAC).",
    tags=["basic"],
)
def alg_mac(ctx: CheckContext) -> None:
    mac_key = secrets.token_bytes(32)
    fault = JwsFault(
        header_set={"alg": "HS256", "jwk": {"kty": "oct", "k": b64url(mac_key)}}, sign_alg="HS256", mac_key=mac_key
    )
    response = _new_account_with(ctx, ctx.new_key(), "newAccount signed with HS256", fault=fault)
    _judge_bad_alg(ctx, response, "alg HS256")


def _judge_bad_alg(ctx: CheckContext, response: httpx.Response, what: str) -> None:
    expect_rejected(response, f"newAccount with {what}")
    kind = short_type(response)
    if kind == "badSignatureAlgorithm":
        ctx.note(f"{what}: rejected with badSignatureAlgorithm as expected")
    else:
        ctx.note(f"{what}: rejected with {describe_response(response)} (badSignatureAlgorithm would be the precise type)")


class _OtherAlgKey(AccountKey):
    """An RSA key that signs correctly as PS256/384/512 or RS384/512, which the engine's key does not."""

    _HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}

    def sign(self, signing_input: bytes, alg: str | None = None) -> bytes:
        alg = alg or self.alg
        key = self.private_key
        assert isinstance(key, rsa.RSAPrivateKey)
        digest = self._HASHES[alg[2:]]()
        if alg.startswith("PS"):
            pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
            return key.sign(signing_input, pss, digest)
        return key.sign(signing_input, padding.PKCS1v15(), digest)


# Real JWS algorithms beyond the RFC's ES256/EdDSA, tried in turn until one is unsupported. Each is
# signed correctly, so a server that supports it accepts (and the next one is tried).
_UNUSUAL_ALGS = ("PS512", "RS512", "PS384", "RS384", "PS256")


@check(
    "jws.unsupported-alg-bad-signature-algorithm",
    title="An unsupported alg gets 400 badSignatureAlgorithm with an algorithms array",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-10"],
    sentence="If the client sends a JWS signed with an algorithm that the server does not support, then the "
    "server MUST return an error with status code 400 (Bad Request) and type "
    '"urn:ietf:params:acme:error:badSignatureAlgorithm". The problem document returned with the error MUST '
    'include an "algorithms" field with an array of supported "alg" values.',
    tags=["basic"],
)
def unsupported_alg(ctx: CheckContext) -> None:
    rsa_key = ctx.new_key("RS256").private_key
    for alg in _UNUSUAL_ALGS:
        response = _new_account_with(ctx, _OtherAlgKey(rsa_key, alg), f"newAccount signed with {alg}")
        if 200 <= response.status_code < 300:
            ctx.note(f"the server supports {alg}; trying another algorithm")
            continue
        expect_problem(response, ["badSignatureAlgorithm"], f"newAccount signed with the unsupported {alg}",
                       statuses={400})
        algorithms = (json_or_none(response) or {}).get("algorithms")
        if not isinstance(algorithms, list) or not algorithms or not all(isinstance(a, str) for a in algorithms):
            raise fail("the badSignatureAlgorithm problem has no algorithms array",
                       expected='"algorithms": a non-empty array of alg strings', actual=f"algorithms={algorithms!r}")
        if alg in algorithms:
            ctx.note(f"the server lists {alg} as supported but refused it")
        return
    raise Skipped("the server accepted every algorithm tried: " + ", ".join(_UNUSUAL_ALGS))


@check(
    "jws.es256-accepted",
    title="newAccount signed with ES256 (P-256) is accepted",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-11"],
    sentence='An ACME server MUST implement the "ES256" signature algorithm [RFC7518].',
    tags=["basic"],
)
def es256_accepted(ctx: CheckContext) -> None:
    response = _new_account_with(ctx, ctx.new_key("ES256"), "newAccount signed with ES256", retry_bad_nonce=True)
    expect_status(response, {200, 201}, "newAccount signed with ES256")


@check(
    "jws.eddsa-accepted",
    title="newAccount signed with EdDSA (Ed25519) is accepted",
    section="RFC 8555 §6.2",
    level="SHOULD",
    requirements=["JWS-12"],
    sentence='[An ACME server] SHOULD implement the "EdDSA" signature algorithm using the "Ed25519" variant '
    '(indicated by "crv") [RFC8037].',
    tags=["basic"],
)
def eddsa_accepted(ctx: CheckContext) -> None:
    response = _new_account_with(ctx, ctx.new_key("EdDSA"), "newAccount signed with EdDSA", retry_bad_nonce=True)
    expect_status(response, {200, 201}, "newAccount signed with EdDSA/Ed25519")


_BAD_KEY_SENTENCE = (
    'If the server supports the signature algorithm "alg" but either does not support or chooses to reject the '
    'public key "jwk", then the server MUST return an error with status code 400 (Bad Request) and type '
    '"urn:ietf:params:acme:error:badPublicKey".'
)


@check(
    "jws.off-curve-key-bad-public-key",
    title="An ES256 jwk whose point is not on P-256 gets 400 badPublicKey",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-13"],
    sentence=_BAD_KEY_SENTENCE + ' Example: "alg" is "ES256" but "jwk" does not contain a valid P-256 public key.',
    tags=["basic"],
)
def off_curve_key(ctx: CheckContext) -> None:
    key = ctx.new_key("ES256")
    jwk = key.public_jwk()
    y = bytearray(b64url_decode(jwk["y"]))
    y[-1] ^= 0x01  # (x, y') is then not on the curve (P-256 has at most two y per x, y and p - y)
    jwk["y"] = b64url(bytes(y))
    response = _new_account_with(ctx, key, "newAccount with a jwk off the P-256 curve",
                                 fault=JwsFault(header_set={"jwk": jwk}))
    expect_problem(response, ["badPublicKey"], "newAccount whose jwk is not a valid P-256 point", statuses={400})


@check(
    "jws.curve-mismatch-bad-public-key",
    title="alg ES256 with a P-384 jwk gets 400 badPublicKey",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-13"],
    sentence=_BAD_KEY_SENTENCE + ' Example: "alg" is "ES256" but "jwk" does not contain a valid P-256 public key.',
    tags=["basic"],
)
def curve_mismatch(ctx: CheckContext) -> None:
    key = AccountKey(ec.generate_private_key(ec.SECP384R1()), "ES256")
    response = _new_account_with(ctx, key, "newAccount: alg ES256 with a P-384 jwk")
    if short_type(response) == "badSignatureAlgorithm" and response.status_code == 400:
        ctx.note("the server answered badSignatureAlgorithm for the curve mismatch (recorded, accepted)")
        return
    expect_problem(response, ["badPublicKey"], "newAccount with alg ES256 and a P-384 key", statuses={400})


@check(
    "jws.small-rsa-key-bad-public-key",
    title="An RS256 key with a 1024-bit modulus is accepted by policy or refused with 400 badPublicKey",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-13"],
    sentence=_BAD_KEY_SENTENCE + ' Example: "alg" is "RS256" but the modulus "n" is too small.',
    tags=["basic", "policy"],
)
def small_rsa_key(ctx: CheckContext) -> None:
    key = AccountKey(rsa.generate_private_key(public_exponent=65537, key_size=1024), "RS256")
    response = _new_account_with(ctx, key, "newAccount with a 1024-bit RSA key", retry_bad_nonce=True)
    if 200 <= response.status_code < 300:
        ctx.note("the server accepts 1024-bit RSA account keys (its key policy; no error type to judge)")
        return
    expect_problem(response, ["badPublicKey"], "newAccount with a 1024-bit RSA key was refused", statuses={400})


@check(
    "jws.key-type-mismatch-rejected",
    title="alg ES256 with an RSA jwk, and RS256 with an EC jwk, are rejected",
    section="RFC 7515 §5.2",
    level="MUST",
    requirements=["JWS-26"],
    sentence="Validate the JWS Signature against the JWS Signing Input ... in the manner defined for the "
    "algorithm being used, which MUST be accurately represented by the value of the alg (RFC 7515 §5.2 step 8). "
    + _VERIFY,
    tags=["basic"],
)
def key_type_mismatch(ctx: CheckContext) -> None:
    rsa_key = ctx.new_key("RS256")
    response = _new_account_with(ctx, rsa_key, "newAccount: alg ES256 with an RSA jwk",
                                 fault=JwsFault(header_set={"alg": "ES256"}))
    judge_rejected(ctx, response, "alg ES256 with an RSA key")
    ec_key = ctx.new_key("ES256")
    response = _new_account_with(ctx, ec_key, "newAccount: alg RS256 with an EC jwk",
                                 fault=JwsFault(header_set={"alg": "RS256"}))
    judge_rejected(ctx, response, "alg RS256 with an EC key")


# -- jwk / kid (§6.2) ------------------------------------------------------------------------


@check(
    "jws.jwk-and-kid-rejected",
    title="A protected header with both jwk and kid is rejected",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-14"],
    sentence='The "jwk" and "kid" fields are mutually exclusive. Servers MUST reject requests that contain both.',
    tags=["account"],
)
def jwk_and_kid(ctx: CheckContext) -> None:
    _reject_new_order(ctx, JwsFault(add_jwk=True), "newOrder with both jwk and kid")


@check(
    "jws.kid-on-new-account-rejected",
    title="newAccount identified by kid instead of jwk is rejected",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-15"],
    sentence='For newAccount requests, and for revokeCert requests authenticated by a certificate key, there '
    'MUST be a "jwk" field. ' + _VERIFY,
    tags=["account"],
)
def kid_on_new_account(ctx: CheckContext) -> None:
    account = ctx.new_account()
    # Signed by the account's own key with its own kid: the only defect is kid instead of jwk.
    response = broken_post(ctx, account, ctx.session.url_for("newAccount"), {"termsOfServiceAgreed": True},
                           JwsFault(), "newAccount with kid instead of jwk")
    judge_rejected(ctx, response, "newAccount identified by kid")


@check(
    "jws.jwk-on-new-order-rejected",
    title="newOrder identified by jwk (the account key) instead of kid is rejected",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-16"],
    sentence='For all other requests, the request is signed using an existing account, and there MUST be a '
    '"kid" field. ' + _VERIFY,
    tags=["account"],
)
def jwk_on_new_order(ctx: CheckContext) -> None:
    account = ctx.new_account()
    with noting("newOrder signed by the account key, identified by jwk"):
        response = ctx.session.post(ctx.session.url_for("newOrder"), order_payload(ctx), account.key,
                                    retry_bad_nonce=False)
    judge_rejected(ctx, response, "newOrder identified by jwk")


@check(
    "jws.jwk-on-post-as-get-rejected",
    title="POST-as-GET of the account identified by jwk instead of kid is rejected",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-16"],
    sentence='For all other requests, the request is signed using an existing account, and there MUST be a '
    '"kid" field. ' + _VERIFY,
    tags=["account"],
)
def jwk_on_post_as_get(ctx: CheckContext) -> None:
    account = ctx.new_account()
    with noting("POST-as-GET of the account identified by jwk"):
        response = ctx.session.post(account.url, None, account.key, retry_bad_nonce=False)
    judge_rejected(ctx, response, "POST-as-GET identified by jwk")


@check(
    "jws.unknown-kid-rejected",
    title="A kid naming an account the server does not have is rejected (accountDoesNotExist)",
    section="RFC 8555 §6.7",
    level="MUST",
    requirements=["JWS-17"],
    sentence="accountDoesNotExist: The request specified an account that does not exist (§6.7). " + _VERIFY,
    tags=["account"],
)
def unknown_kid(ctx: CheckContext) -> None:
    account = ctx.new_account()
    parts = urlsplit(account.url)
    base = parts.path.rstrip("/").rsplit("/", 1)[0]
    fake = urlunsplit(parts._replace(path=f"{base}/{secrets.token_hex(8)}"))
    stranger = Account(key=ctx.new_key(), url=fake, body={})
    response = broken_post(ctx, stranger, ctx.session.url_for("newOrder"), order_payload(ctx), JwsFault(),
                           "newOrder with the kid of an account that does not exist")
    expect_rejected(response, "a request whose kid names no account")
    if short_type(response) != "accountDoesNotExist":
        ctx.note(f"rejected with {describe_response(response)}; accountDoesNotExist is the precise type")


def _missing(ctx: CheckContext, member: str) -> None:
    _reject_new_order(ctx, JwsFault(header_remove=(member,)), f"newOrder without {member!r} in the protected header")


_REQUIRED_FIELDS = (
    'The JWS Protected Header MUST include the following fields: "alg" (Algorithm) ... "nonce" ... "url" ... '
    'Either "jwk" (JSON Web Key) or "kid" (Key ID). ' + _VERIFY
)


@check("jws.missing-alg-rejected", title="A protected header without alg is rejected", section="RFC 8555 §6.2",
       level="MUST", requirements=["JWS-18"], sentence=_REQUIRED_FIELDS, tags=["account"])
def missing_alg(ctx: CheckContext) -> None:
    _missing(ctx, "alg")


@check("jws.missing-url-rejected", title="A protected header without url is rejected", section="RFC 8555 §6.2",
       level="MUST", requirements=["JWS-18"], sentence=_REQUIRED_FIELDS, tags=["account"])
def missing_url(ctx: CheckContext) -> None:
    _missing(ctx, "url")


@check("jws.missing-key-rejected", title="A protected header with neither jwk nor kid is rejected",
       section="RFC 8555 §6.2", level="MUST", requirements=["JWS-18"], sentence=_REQUIRED_FIELDS, tags=["account"])
def missing_key(ctx: CheckContext) -> None:
    _missing(ctx, "kid")


# -- signatures (§6.2) -----------------------------------------------------------------------


@check(
    "jws.corrupt-signature-rejected",
    title="A JWS whose signature has one bit flipped is rejected",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-19"],
    sentence=_VERIFY,
    tags=["account"],
)
def corrupt_signature(ctx: CheckContext) -> None:
    _reject_new_order(ctx, JwsFault(corrupt_signature=True), "newOrder with a corrupted signature")


@check(
    "jws.wrong-key-signature-rejected",
    title="A JWS signed by another key than the account named in kid is rejected",
    section="RFC 8555 §6.2",
    level="MUST",
    requirements=["JWS-19"],
    sentence=_VERIFY + " ... signed using the account's private key.",
    tags=["account"],
)
def wrong_key_signature(ctx: CheckContext) -> None:
    account = ctx.new_account()
    impostor = Account(key=ctx.new_key(), url=account.url, body={})
    response = broken_post(ctx, impostor, ctx.session.url_for("newOrder"), order_payload(ctx), JwsFault(),
                           "newOrder with the account's kid, signed by another key")
    judge_rejected(ctx, response, "a JWS signed by a key that is not the account's")


# -- url (§6.4, §6.4.1) ------------------------------------------------------------------------


@check(
    "jws.url-mismatch-unauthorized",
    title="A JWS whose url names another resource than the request URL is rejected as unauthorized",
    section="RFC 8555 §6.4",
    level="MUST",
    requirements=["JWS-20"],
    sentence='the server MUST compare the "url" header parameter to the request URL. If the two do not match, '
    "then the server MUST reject the request as unauthorized.",
    tags=["account"],
)
def url_mismatch(ctx: CheckContext) -> None:
    fault = JwsFault(header_set={"url": ctx.session.url_for("newAccount")})
    response = _new_order_with(ctx, fault, "POST to newOrder with url = the newAccount URL")
    expect_rejected(response, "a JWS whose url is another resource")
    if problem_type(response) != full_type("unauthorized"):
        raise Warned(
            "the url mismatch was rejected, but not as unauthorized",
            expected="problem type urn:ietf:params:acme:error:unauthorized",
            actual=describe_response(response),
        )


def _url_variants(url: str) -> list[tuple[str, str]]:
    """Equivalent-looking spellings of ``url`` that are not the same string."""
    parts = urlsplit(url)
    slash = parts.path[:-1] if parts.path.endswith("/") else parts.path + "/"
    variants = [("a trailing slash added or removed", urlunsplit(parts._replace(path=slash))),
                ("an added query", urlunsplit(parts._replace(query="x"))),
                ("the scheme in upper case", "HTTPS" + url[len(parts.scheme):])]
    path = parts.path
    index = next((i for i, c in enumerate(path) if c.isalnum() or c in "-_."), None)
    if index is not None:
        encoded = path[:index] + f"%{ord(path[index]):02X}" + path[index + 1:]
        variants.append(("a percent-encoded path character", urlunsplit(parts._replace(path=encoded))))
    host = parts.hostname or ""
    if any(c.isalpha() for c in host):
        variants.append(("the host in upper case", urlunsplit(parts._replace(netloc=parts.netloc.upper()))))
    if parts.port is None and parts.scheme == "https":
        variants.append(("an explicit :443", urlunsplit(parts._replace(netloc=parts.netloc + ":443"))))
    return variants


@check(
    "jws.url-string-equality",
    title="url values equivalent to, but not the same string as, the request URL are refused",
    section="RFC 8555 §6.4",
    level="SHOULD",
    requirements=["JWS-21"],
    sentence="The server SHOULD perform the corresponding string equality check, configuring each resource with "
    'the URL string provided to clients and having the resource check that requests have the same string in '
    'their "url" header parameter. The server MUST reject the request as unauthorized if the string equality '
    "check fails.",
    tags=["account"],
)
def url_string_equality(ctx: CheckContext) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("newOrder")
    accepted = []
    for label, variant in _url_variants(url):
        response = broken_post(ctx, account, url, order_payload(ctx), JwsFault(header_set={"url": variant}),
                               f"newOrder with url spelled with {label}")
        if 200 <= response.status_code < 300:
            accepted.append(f"{label} ({variant})")
        elif not 400 <= response.status_code < 500:
            raise fail(f"url with {label}: unexpected answer", expected="a 4xx rejection",
                       actual=describe_response(response))
    if accepted:
        raise fail("the server accepted url values that are not the exact string it issued",
                   expected="string equality with the newOrder URL", actual="accepted: " + "; ".join(accepted))


@check(
    "jws.url-only-unprotected-rejected",
    title="A url carried only in an unprotected header is rejected",
    section="RFC 8555 §6.4.1",
    level="MUST",
    requirements=["JWS-22"],
    sentence='The "url" header parameter MUST be carried in the protected header of the JWS.',
    tags=["account"],
)
def url_only_unprotected(ctx: CheckContext) -> None:
    url = ctx.session.url_for("newOrder")
    fault = JwsFault(header_remove=("url",), unprotected={"url": url})
    _reject_new_order(ctx, fault, "newOrder with url only in the unprotected header")


@check(
    "jws.url-not-string-rejected",
    title="A url header parameter that is a number or an object is rejected",
    section="RFC 8555 §6.4.1",
    level="MUST",
    requirements=["JWS-22"],
    sentence='The value of the "url" header parameter MUST be a string representing the target URL.',
    tags=["account"],
)
def url_not_string(ctx: CheckContext) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("newOrder")
    for label, value in (("a number", 443), ("an object", {"href": url})):
        response = broken_post(ctx, account, url, order_payload(ctx), JwsFault(header_set={"url": value}),
                               f"newOrder with url as {label}")
        judge_rejected(ctx, response, f"url as {label}")


# -- payload and body (§6.2, RFC 7515) ---------------------------------------------------------------


@check(
    "jws.payload-not-json-rejected",
    title="A newOrder whose payload is not JSON is rejected",
    section="RFC 8555 §6.2",
    level="descr.",
    requirements=["JWS-23"],
    sentence="All ACME requests with a non-empty body MUST encapsulate their payload in a JWS; request payloads "
    "are JSON objects (§7.4: the client sends a JSON object to newOrder).",
    tags=["account"],
)
def payload_not_json(ctx: CheckContext) -> None:
    _reject_new_order(ctx, JwsFault(raw_payload=b"not json"), "newOrder whose payload is 'not json'")


@check(
    "jws.unknown-crit-rejected",
    title='A protected header with "crit" naming an unknown extension is rejected',
    section="RFC 7515 §4.1.11",
    level="MUST",
    requirements=["JWS-24"],
    sentence="If any of the listed extension Header Parameters are not understood and supported by the "
    "recipient, then the JWS is invalid (RFC 7515 §4.1.11). " + _VERIFY,
    tags=["account"],
)
def unknown_crit(ctx: CheckContext) -> None:
    fault = JwsFault(header_set={"crit": ["x-acme-conformance"], "x-acme-conformance": 1})
    _reject_new_order(ctx, fault, 'newOrder with "crit": ["x-acme-conformance"]')


@check(
    "jws.duplicate-header-member-rejected",
    title="A protected header that repeats a member name (two url values) is rejected",
    section="RFC 7515 §5.2",
    level="MUST",
    requirements=["JWS-25"],
    sentence="During this step, verify that the resulting JOSE Header does not contain duplicate Header "
    "Parameter names (RFC 7515 §5.2 step 4); JWS parsers MUST either reject JWSs with duplicate Header "
    "Parameter names or use a JSON parser that returns only the lexically last duplicate member name (§4).",
    tags=["account"],
)
def duplicate_header_member(ctx: CheckContext) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("newOrder")
    other = ctx.session.url_for("newAccount")
    # Both orders, so that neither a first-wins nor a last-wins parser gets its url check satisfied
    # for free: a parser that keeps the lexically last member must see the wrong url in the second.
    for first, last in ((other, url), (url, other)):
        payload = order_payload(ctx)
        header = protected_for(ctx, account, url)
        text = json.dumps({k: v for k, v in header.items() if k != "url"}, separators=(",", ":"))
        protected = (text[:-1] + f',"url":{json.dumps(first)},"url":{json.dumps(last)}}}').encode("utf-8")
        jws = raw_jws(account.key, protected, json_bytes(payload))
        response = send_raw(ctx, url, json_bytes(jws), f"newOrder with url repeated ({'right last' if last == url else 'right first'})",
                            protected={**header, "url": [first, last]}, payload=payload)
        if 200 <= response.status_code < 300 and last != url:
            raise fail("a header with two url members was not rejected although its last url is wrong",
                       expected="rejection (duplicate names, or the last url is not the request URL)",
                       actual=describe_response(response))
        if 200 <= response.status_code < 300:
            ctx.note("duplicate url with the request URL last was accepted (a last-wins parser; RFC 7515 allows it)")
            continue
        expect_rejected(response, "a protected header with two url members")


@check(
    "jws.unknown-member-ignored",
    title="An unknown top-level member of a flattened JWS is ignored",
    section="RFC 7515 §7.2.1",
    level="MUST",
    requirements=["JWS-27"],
    sentence="Additional members can be present in both the JSON objects defined above; if not understood by "
    "implementations encountering them, they MUST be ignored.",
    tags=["account"],
)
def unknown_member(ctx: CheckContext) -> None:
    response = _new_order_with(ctx, JwsFault(extra_members={"x-acme-conformance": 1}),
                               "newOrder with an unknown top-level JWS member")
    if response.status_code != 201:
        # RFC 8555 does not restate RFC 7515's rule: a softer finding.
        raise Warned("a JWS with an unknown extra member was not accepted", expected="201 (the member ignored)",
                     actual=describe_response(response))


def _post_body(ctx: CheckContext, body: bytes, what: str) -> None:
    response = send_raw(ctx, ctx.session.url_for("newOrder"), body, what)
    judge_rejected(ctx, response, what)


_BODY_SENTENCE = "All ACME requests with a non-empty body MUST encapsulate their payload in a JSON Web Signature. " + _VERIFY


@check("jws.empty-body-rejected", title="A POST with an empty body is rejected", section="RFC 8555 §6.2",
       level="descr.", requirements=["JWS-28"], sentence=_BODY_SENTENCE, tags=["basic"])
def empty_body(ctx: CheckContext) -> None:
    _post_body(ctx, b"", "POST newOrder with an empty body")


@check("jws.body-not-json-rejected", title="A POST whose body is not JSON is rejected", section="RFC 8555 §6.2",
       level="descr.", requirements=["JWS-28"], sentence=_BODY_SENTENCE, tags=["basic"])
def body_not_json(ctx: CheckContext) -> None:
    _post_body(ctx, b"this is not a JWS", "POST newOrder with a non-JSON body")


@check("jws.body-json-array-rejected", title="A POST whose body is a JSON array is rejected",
       section="RFC 8555 §6.2", level="descr.", requirements=["JWS-28"], sentence=_BODY_SENTENCE, tags=["basic"])
def body_json_array(ctx: CheckContext) -> None:
    _post_body(ctx, b'[{"protected":"e30","payload":"","signature":""}]', "POST newOrder with a JSON array body")
