"""The mutation language on its own (no server): each mutant changes exactly what it says."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from conformance.fuzz import mutations as mut
from conformance.fuzz.invariants import INVARIANTS, MUTATION_FAMILIES
from conformance.jws import AccountKey, b64url_decode

KEY = AccountKey.generate("ES256")
URL = "https://acme.test/order-plz"


def _plan(template: str = "new-order", payload: object = None, kid: str | None = "https://acme.test/acct/1") -> mut.RequestPlan:
    return mut.RequestPlan(
        template, URL, payload if payload is not None else {"identifiers": [{"type": "dns", "value": "a.test"}]},
        KEY, kid, "bm9uY2Utb25l", ["https://acme.test/other", URL], "https://acme.test/acct/2", "c3BlbnQtbm9uY2U",
    )


def _protected(body: bytes) -> dict[str, object]:
    return json.loads(b64url_decode(json.loads(body)["protected"]))


def test_every_mutation_has_an_expectation_and_an_invariant() -> None:
    for family, kind in mut.EXPECTATIONS:
        assert family in MUTATION_FAMILIES
        assert f"fuzz.mutant.{family}" in INVARIANTS
        assert mut.expectation(mut.Mutation(family, kind)).requirements


@pytest.mark.parametrize(("family", "kind", "header_check"), [
    ("nonce", "missing", lambda h: "nonce" not in h),
    ("nonce", "never-issued", lambda h: h["nonce"] not in ("bm9uY2Utb25l", "c3BlbnQtbm9uY2U")),
    ("nonce", "spent", lambda h: h["nonce"] == "c3BlbnQtbm9uY2U"),
    ("url", "other-url", lambda h: h["url"] == "https://acme.test/other"),
    ("url", "missing", lambda h: "url" not in h),
    ("alg", "none", lambda h: h["alg"] == "none"),
    ("alg", "mismatch", lambda h: h["alg"] != "ES256"),
    ("key", "jwk-and-kid", lambda h: "jwk" in h and "kid" in h),
    ("key", "jwk-instead-of-kid", lambda h: "jwk" in h and "kid" not in h),
    ("key", "foreign-kid", lambda h: h["kid"] == "https://acme.test/acct/2"),
    ("protected-member", "crit-unknown", lambda h: h["crit"] == ["x-acme-conformance"]),
])
def test_header_mutations_change_the_named_member(family: str, kind: str, header_check) -> None:  # type: ignore[no-untyped-def]
    plan = _plan()
    mutation = mut.Mutation(family, kind, 0)
    assert mut.applicable(mutation, plan)
    prepared = mut.apply(mutation, plan)
    header = _protected(prepared.body)
    assert header_check(header), header
    # Everything else stays as it was: the request is still POSTed to the same URL as JOSE.
    assert prepared.method == "POST" and prepared.url == URL
    assert prepared.headers == {"Content-Type": "application/jose+json"}


def test_duplicate_url_puts_the_wrong_value_last() -> None:
    prepared = mut.apply(mut.Mutation("protected-member", "duplicate-url-last-wrong", 0), _plan())
    text = b64url_decode(json.loads(prepared.body)["protected"]).decode()
    assert text.index(f'"url":"{URL}"') < text.index('"url":"https://acme.test/other"')


def test_structure_and_transport_mutations() -> None:
    plan = _plan()
    assert mut.apply(mut.Mutation("structure", "compact"), plan).body.count(b".") == 2
    assert "signatures" in json.loads(mut.apply(mut.Mutation("structure", "general"), plan).body)
    assert len(json.loads(mut.apply(mut.Mutation("structure", "two-signatures"), plan).body)["signatures"]) == 2
    assert "payload" not in json.loads(mut.apply(mut.Mutation("structure", "no-payload-member"), plan).body)
    assert mut.apply(mut.Mutation("structure", "body-empty"), plan).body == b""
    assert mut.apply(mut.Mutation("content-type", "missing"), plan).headers == {}
    assert mut.apply(mut.Mutation("content-type", "application/json"), plan).headers == {"Content-Type": "application/json"}
    assert mut.apply(mut.Mutation("method", "GET"), plan).method == "GET"


def test_payload_mutations_apply_only_to_their_template() -> None:
    order = _plan("new-order")
    challenge = _plan("challenge", payload={})
    assert mut.applicable(mut.Mutation("payload", "identifiers-empty"), order)
    assert not mut.applicable(mut.Mutation("payload", "identifiers-empty"), challenge)
    prepared = mut.apply(mut.Mutation("payload", "identifiers-empty"), order)
    assert json.loads(b64url_decode(json.loads(prepared.body)["payload"])) == {"identifiers": []}
    raw = mut.apply(mut.Mutation("payload", "challenge-not-object", 0), challenge)
    assert b64url_decode(json.loads(raw.body)["payload"]) == b"[]"


def test_signature_mutations_keep_the_signed_parts() -> None:
    plan = _plan()
    clean = json.loads(mut.apply(mut.Mutation("content-type", "text/plain"), plan).body)
    for kind in ("flip-bit", "random", "truncated", "other-key"):
        mutated = json.loads(mut.apply(mut.Mutation("signature", kind, 3), plan).body)
        assert mutated["protected"] == clean["protected"] and mutated["payload"] == clean["payload"]
        assert mutated["signature"] != clean["signature"]


def test_padding_is_detected_as_a_no_op_when_there_is_none() -> None:
    plan = _plan()
    for member in ("protected", "payload", "signature"):
        mutation = mut.Mutation("padding", member)
        prepared = mut.apply(mutation, plan)
        value = json.loads(prepared.body)[member]
        assert mut.changed(mutation, plan, prepared) == value.endswith("=")


@settings(max_examples=200, deadline=None)
@given(mutation=mut.mutations())
def test_every_drawn_mutation_applies_or_is_declared_inapplicable(mutation: mut.Mutation) -> None:
    for template in ("new-order", "challenge", "finalize", "revoke", "fetch", "authz-deactivate"):
        payload = {"new-order": None, "challenge": {}, "finalize": {"csr": "AAAA"}, "revoke": {"certificate": "AAAA"},
                   "authz-deactivate": {"status": "deactivated"}}.get(template)
        plan = _plan(template, payload if payload is not None or template != "fetch" else None)
        if template == "fetch":
            plan.payload = None
        if not mut.applicable(mutation, plan):
            continue
        prepared = mut.apply(mutation, plan)
        assert isinstance(prepared.body, bytes)
        assert mutation == mut.Mutation.from_dict(json.loads(json.dumps(mutation.to_dict())))
