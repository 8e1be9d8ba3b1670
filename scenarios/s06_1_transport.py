"""Transport and encoding (RFC 8555 §5, §6.1), and plain HTTP behaviour (RFC 9110) seen in ACME tests."""

from __future__ import annotations

import socket
import ssl
import warnings
from typing import Any
from urllib.parse import urlsplit

from conformance.acme import describe_response
from conformance.context import CheckContext
from conformance.csr import make_csr
from conformance.judge import BASE64URL, expect_rejected, fail, media_type
from conformance.jws import b64url_padded, json_bytes
from conformance.model import CouldNotTest, Skipped
from conformance.recorder import noting
from conformance.registry import check, not_judged
from scenarios._s06_raw import fit_for_padding, order_payload, protected_for, raw_jws, send_raw

# -- HTTPS everywhere (GEN-1), TLS configuration (GEN-2), CORS (GEN-3) --------------------------------


@check(
    "transport.all-urls-https",
    title="Every URL the server hands out (directory, Location, order, authorization, challenge, certificate) is https",
    section="RFC 8555 §6.1",
    level="REQUIRED",
    requirements=["GEN-1"],
    sentence="Each ACME function is accomplished by the client sending a sequence of HTTPS requests to the "
    "server ... The use of HTTPS is REQUIRED.",
    tags=["account", "validation", "issuance"],
)
def all_urls_https(ctx: CheckContext) -> None:
    issuance = ctx.shared_issuance("http-01")
    urls: list[tuple[str, Any]] = [(f"directory {k}", v) for k, v in ctx.directory.items() if k != "meta"]
    urls += [("account Location", issuance.account.url), ("account orders", issuance.account.body.get("orders")),
             ("order Location", issuance.order.url), ("order finalize", issuance.order.body.get("finalize")),
             ("order certificate", issuance.order.body.get("certificate"))]
    urls += [("order authorization", u) for u in issuance.authorization_urls]
    for authz in issuance.authorizations:
        urls += [(f"{c.get('type')} challenge url", c.get("url")) for c in authz.get("challenges", [])
                 if isinstance(c, dict)]
    for exchange in ctx.setup_exchanges:
        location = exchange.response_header("Location")
        if location:
            urls.append((f"Location of {exchange.method} {urlsplit(exchange.url).path}", location))
    bad = [f"{label}: {value!r}" for label, value in urls
           if value is not None and not (isinstance(value, str) and urlsplit(value).scheme == "https")]
    ctx.note(f"{len(urls)} URLs inspected")
    if bad:
        raise fail("the server hands out URLs that are not https", expected="https:// for every ACME resource",
                   actual="; ".join(bad))


def _handshake(host: str, port: int, version: ssl.TLSVersion | None, ciphers: str | None) -> str | None:
    """Try one TLS handshake; the negotiated version on success, None when the server refused it.

    Raises OSError when our own TLS library cannot offer what was asked (then nothing can be judged).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we judge the protocol offer, not the certificate
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if ciphers is not None:
            context.set_ciphers(ciphers)
        if version is not None:
            context.minimum_version = version
            context.maximum_version = version
    with socket.create_connection((host, port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                return tls.version()
        except (TimeoutError, ssl.SSLError, ConnectionResetError):
            return None


_LEGACY_PROBES: tuple[tuple[str, ssl.TLSVersion, str], ...] = (
    ("TLS 1.0", ssl.TLSVersion.TLSv1, "ALL:@SECLEVEL=0"),
    ("TLS 1.1", ssl.TLSVersion.TLSv1_1, "ALL:@SECLEVEL=0"),
    ("a NULL cipher suite over TLS 1.2", ssl.TLSVersion.TLSv1_2, "eNULL:@SECLEVEL=0"),
    ("an RC4 or export cipher suite over TLS 1.2", ssl.TLSVersion.TLSv1_2, "RC4:EXP:@SECLEVEL=0"),
)


@check(
    "transport.no-legacy-tls",
    title="The server refuses TLS 1.0/1.1 and NULL/RC4/export cipher suites (RFC 7525)",
    section="RFC 8555 §6.1",
    level="SHOULD",
    requirements=["GEN-2"],
    sentence="ACME servers SHOULD follow the recommendations of [RFC7525] when configuring their TLS "
    "implementations. (RFC 7525 §3.1.1: implementations MUST NOT negotiate SSL version 3 ... SHOULD NOT negotiate "
    "TLS version 1.0 ... SHOULD NOT negotiate TLS version 1.1; §4.1: MUST NOT negotiate the cipher suites with "
    "NULL encryption, RC4, or export-level encryption.)",
    tags=["basic"],
)
def no_legacy_tls(ctx: CheckContext) -> None:
    parts = urlsplit(ctx.run.target.directory_url)
    if parts.scheme != "https" or not parts.hostname:
        raise Skipped("the target is not served over HTTPS (see transport.all-urls-https)")
    host, port = parts.hostname, parts.port or 443
    try:
        modern = _handshake(host, port, None, None)
    except OSError as exc:
        raise CouldNotTest(f"cannot connect to {host}:{port}: {exc}") from exc
    if modern is None:
        raise CouldNotTest(f"a default TLS handshake with {host}:{port} failed: nothing to compare against")
    ctx.note(f"default handshake: {modern}")
    accepted, probed = [], 0
    for label, version, ciphers in _LEGACY_PROBES:
        try:
            result = _handshake(host, port, version, ciphers)
        except (OSError, ValueError) as exc:
            ctx.note(f"{label}: our TLS library cannot offer it ({exc}); not probed")
            continue
        probed += 1
        ctx.note(f"{label}: {'accepted (' + result + ')' if result else 'refused'}")
        if result is not None:
            accepted.append(label)
    if not probed:
        raise Skipped("the local TLS library can offer none of the legacy protocol versions or suites")
    if accepted:
        raise fail("the server negotiates legacy TLS", expected="TLS 1.2+ with modern cipher suites only",
                   actual="accepted: " + ", ".join(accepted))


not_judged("GEN-7", "0-RTT early data (a MAY) cannot be sent with the Python TLS stack; nothing to fail either")


@check(
    "transport.cors-allow-origin",
    title='The directory answers a cross-origin request with Access-Control-Allow-Origin: "*"',
    section="RFC 8555 §6.1",
    level="SHOULD",
    requirements=["GEN-3"],
    sentence="ACME servers that are intended to be generally accessible need to use Cross-Origin Resource Sharing "
    '(CORS) in order to be accessible from browser-based clients. Such servers SHOULD set the '
    'Access-Control-Allow-Origin header field to the value "*".',
    tags=["basic", "policy"],
)
def cors_allow_origin(ctx: CheckContext) -> None:
    origin = {"Origin": "https://browser-client.example"}
    with noting("GET directory from another origin"):
        response = ctx.session.get(ctx.run.target.directory_url, headers=origin)
    value = response.headers.get("Access-Control-Allow-Origin")
    with noting("CORS preflight for a JOSE POST to newOrder"):
        preflight = ctx.session.request("OPTIONS", ctx.session.url_for("newOrder"), headers={
            **origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    ctx.note(f"preflight: HTTP {preflight.status_code}, Access-Control-Allow-Origin "
             f"{preflight.headers.get('Access-Control-Allow-Origin')!r}")
    if value != "*":
        raise fail('the directory does not allow every origin', expected='Access-Control-Allow-Origin: *',
                   actual=f"Access-Control-Allow-Origin: {value!r}")


# -- UTF-8 (GEN-4) ------------------------------------------------------------------------------------


@check(
    "transport.utf-8-bodies",
    title="Response bodies (directory, account, order, authorization, errors) are UTF-8",
    section="RFC 8555 §5",
    level="MUST",
    requirements=["GEN-4"],
    sentence="All requests and responses sent via HTTP by ACME clients, ACME servers, and validation servers as "
    "well as any inputs for digest computations MUST be encoded using the UTF-8 character set [RFC3629].",
    tags=["account"],
)
def utf8_bodies(ctx: CheckContext) -> None:
    with noting("GET directory"):
        ctx.session.get(ctx.run.target.directory_url)
    account = ctx.new_account()
    order = ctx.session.create_order(account, ctx.new_identifiers())
    for url in order.body.get("authorizations") or []:
        ctx.session.post_as_get(str(url), account)
    with noting("an error response: POST-as-GET of an unknown order URL"):
        ctx.session.post_as_get(order.url + "-unknown", account)
    with noting("an error response: plain GET of newOrder"):
        ctx.session.get(ctx.session.url_for("newOrder"))
    bad = []
    for exchange in ctx.recorder.exchanges:
        content_type = exchange.response_header("Content-Type") or ""
        charset = _charset(content_type)
        if charset is not None and charset not in ("utf-8", "utf8"):
            bad.append(f"{exchange.method} {urlsplit(exchange.url).path}: charset={charset}")
            continue
        try:
            exchange.response_body.decode("utf-8", "strict")
        except UnicodeDecodeError as exc:
            bad.append(f"{exchange.method} {urlsplit(exchange.url).path}: not UTF-8 ({exc.reason} at byte {exc.start})")
    if bad:
        raise fail("responses that are not UTF-8", expected="UTF-8 bodies (charset utf-8 when stated)",
                   actual="; ".join(bad))


def _charset(content_type: str) -> str | None:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


# -- base64url padding (GEN-5) and server-made base64url values (GEN-6) -------------------------------

_PADDING = (
    "Trailing '=' characters MUST be stripped. Encoded values that include trailing '=' characters MUST be "
    "rejected as improperly encoded."
)


def _padded_new_order(ctx: CheckContext, member: str) -> None:
    account = ctx.new_account()
    url = ctx.session.url_for("newOrder")
    payload = order_payload(ctx)
    header = protected_for(ctx, account, url)
    # JSON allows trailing whitespace; it makes the base64 of the member really end in '='.
    protected = json_bytes(header)
    body = json_bytes(payload)
    if member == "protected":
        protected = fit_for_padding(protected)
    elif member == "payload":
        body = fit_for_padding(body)
    jws = raw_jws(account.key, protected, body, pad=frozenset({member}))
    if not jws[member].endswith("="):
        raise CouldNotTest(f"could not make the {member} member carry padding")  # cannot happen: see fit_for_padding
    response = send_raw(ctx, url, json_bytes(jws), f"newOrder with '=' padding in the {member} member",
                        protected=header, payload=payload)
    expect_rejected(response, f"a JWS whose {member} keeps its '=' padding")
    ctx.note(f"rejected with {describe_response(response)}")


def _register_padding_check(member: str) -> None:
    @check(
        f"transport.padded-{member}-rejected",
        title=f"A JWS whose {member} member keeps its '=' padding is rejected",
        section="RFC 8555 §6.1",
        level="MUST",
        requirements=["GEN-5"],
        sentence=_PADDING,
        tags=["account"],
    )
    def padded(ctx: CheckContext) -> None:
        _padded_new_order(ctx, member)


for _member in ("protected", "payload", "signature"):
    _register_padding_check(_member)


@check(
    "transport.padded-csr-rejected",
    title="A finalize request whose csr keeps its '=' padding is rejected",
    section="RFC 8555 §6.1",
    level="MUST",
    requirements=["GEN-5"],
    sentence=_PADDING + " (§7.4: csr (required, string): A CSR encoding the parameters for the certificate being "
    "requested [RFC2986]. The CSR is sent in the base64url-encoded version of the DER format.)",
    tags=["account", "validation"],
)
def padded_csr(ctx: CheckContext) -> None:
    ctx.require_challenge_type("http-01")
    account = ctx.new_account()
    identifiers = ctx.new_identifiers()
    order = ctx.session.create_order(account, identifiers)
    ctx.session.validate_order(order, "http-01", ctx.backend)
    order.body = ctx.session.poll(order.url, account, lambda b: b.get("status") != "pending", "order")
    csr_der = make_csr([identifiers[0].value])[0]
    while len(csr_der) % 3 == 0:  # a DER length divisible by 3 has no padding to keep
        csr_der = make_csr([identifiers[0].value])[0]
    with noting("finalize with a padded csr"):
        response = ctx.session.signed(str(order.body["finalize"]), {"csr": b64url_padded(csr_der)}, account,
                                      retry_bad_nonce=False)
    expect_rejected(response, "finalize with a csr that keeps its '=' padding")
    ctx.note(f"rejected with {describe_response(response)}")


@check(
    "transport.server-base64url-values",
    title="Challenge tokens and Replay-Nonces the server makes are unpadded base64url",
    section="RFC 8555 §6.1",
    level="MUST",
    requirements=["GEN-6"],
    sentence="Binary fields in the JSON objects used by ACME are encoded using base64url encoding ... Trailing "
    "'=' characters MUST be stripped. (§8.3: token ... It MUST NOT contain any characters outside the base64url "
    "alphabet and MUST NOT include base64 padding characters (\"=\").)",
    tags=["account"],
)
def server_base64url(ctx: CheckContext) -> None:
    account = ctx.new_account()
    order = ctx.session.create_order(account, ctx.new_identifiers())
    bad, tokens = [], 0
    for _, authz in ctx.session.authorizations(order):
        for challenge in authz.get("challenges") or []:
            token = challenge.get("token") if isinstance(challenge, dict) else None
            if token is None:
                continue
            tokens += 1
            if not isinstance(token, str) or not BASE64URL.match(token):
                bad.append(f"{challenge.get('type')} token {token!r}")
    for exchange in ctx.recorder.exchanges:
        nonce = exchange.response_header("Replay-Nonce")
        if nonce is not None and not BASE64URL.match(nonce):
            bad.append(f"Replay-Nonce {nonce!r}")
    if not tokens:
        raise CouldNotTest("the new order's authorizations carry no challenge tokens")
    if bad:
        raise fail("server-made values that are not unpadded base64url", expected="only [A-Za-z0-9_-]",
                   actual="; ".join(bad))


# -- plain HTTP behaviour (HTTP-2, HTTP-3) ------------------------------------------------------------------


@check(
    "transport.unknown-path-404-problem",
    title="An unknown path under the ACME server answers 404 with a problem document",
    section="RFC 9110 §15.5.5",
    level="MAY",
    requirements=["HTTP-2"],
    sentence="The 404 (Not Found) status code indicates that the origin server did not find a current "
    "representation for the target resource (RFC 9110); ACME does not define the answer, a problem document "
    "(RFC 8555 §6.7 SHOULD for errors) is usual.",
    tags=["basic"],
)
def unknown_path(ctx: CheckContext) -> None:
    parts = urlsplit(ctx.run.target.directory_url)
    base = parts.path.rsplit("/", 1)[0]
    url = parts._replace(path=f"{base}/acme-conformance-no-such-resource").geturl()
    with noting("GET an unknown path"):
        response = ctx.session.get(url)
    if response.status_code != 404 or media_type(response) != "application/problem+json":
        raise fail("an unknown path is not answered 404 with a problem document",
                   expected="404 application/problem+json (usual, not required)",
                   actual=f"HTTP {response.status_code}, Content-Type {media_type(response)}")


@check(
    "transport.head-directory",
    title="HEAD on the directory answers like GET, without a body",
    section="RFC 9110 §9.3.2",
    level="MAY",
    requirements=["HTTP-3"],
    sentence="The HEAD method is identical to GET except that the server MUST NOT send content in the response "
    "(RFC 9110 §9.3.2); ACME does not require HEAD on the directory.",
    tags=["basic"],
)
def head_directory(ctx: CheckContext) -> None:
    with noting("HEAD directory"):
        response = ctx.session.head(ctx.run.target.directory_url)
    if response.status_code != 200:
        raise fail("HEAD on the directory is not supported", expected="200 (not required by ACME)",
                   actual=describe_response(response))
    if response.content:
        raise fail("HEAD on the directory returned content", expected="no body",
                   actual=f"{len(response.content)} bytes")
