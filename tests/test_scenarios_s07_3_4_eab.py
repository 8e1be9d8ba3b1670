"""Fail/pass proofs for external account binding (scenarios/s07_3_4_eab.py).

The session's Pebble supports but does not require a binding; a second Pebble started here
requires one (externalAccountBindingRequired), for the checks about that case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CheckRunner, assert_verdict
from faults import chain, edit_json, jws_payload
from faults_accounts import (
    ACCOUNT,
    NEW_ACCOUNT,
    accept_binding,
    both,
    has_member,
    payload_is,
    problem,
    retype,
)

from conformance.harness import TargetOptions, open_harness
from conformance.keypool import KeyPool
from conformance.model import Verdict

BAD_BINDINGS = [
    "eab.rejects-non-mac-alg",
    "eab.rejects-nonce",
    "eab.rejects-url-mismatch",
    "eab.rejects-unknown-kid",
    "eab.rejects-wrong-mac",
    "eab.rejects-other-account-key",
    "eab.rejects-malformed-jws",
]
WITHOUT_BINDING = both(NEW_ACCOUNT, payload_is(lambda p: "externalAccountBinding" not in p))


@pytest.fixture(scope="module")
def required_eab(tmp_path_factory: pytest.TempPathFactory, keypool: KeyPool) -> Iterator[CheckRunner]:
    workdir: Path = tmp_path_factory.mktemp("eab-required")
    with open_harness(TargetOptions(workdir=workdir, pebble_config={"externalAccountBindingRequired": True})) as started:
        yield CheckRunner(started, keypool)


def _eab(run_check: CheckRunner) -> tuple[str, bytes]:
    assert run_check.harness.eab is not None
    return run_check.harness.eab


def test_directory_flag_when_required(run_check: CheckRunner, required_eab: CheckRunner) -> None:
    assert_verdict(run_check("eab.directory-flag-when-required"), Verdict.PASS)
    assert_verdict(required_eab("eab.directory-flag-when-required"), Verdict.PASS)
    # SSL.com's case (https-dev/docs#5): the binding is demanded, the directory does not say so.
    demanded = problem(WITHOUT_BINDING, 403, "externalAccountRequired")
    assert_verdict(run_check("eab.directory-flag-when-required", demanded), Verdict.FAIL, "externalAccountRequired")
    hidden = edit_json(lambda r: r.url.path == "/dir", lambda b: {**b, "meta": {"externalAccountRequired": False}})
    assert_verdict(required_eab("eab.directory-flag-when-required", hidden), Verdict.FAIL, "externalAccountRequired")


def test_required_error_type(run_check: CheckRunner, required_eab: CheckRunner) -> None:
    assert_verdict(run_check("eab.required-error-type"), Verdict.SKIP)
    assert_verdict(required_eab("eab.required-error-type"), Verdict.PASS)
    wrong = retype(NEW_ACCOUNT, "externalAccountRequired", "malformed")
    assert_verdict(required_eab("eab.required-error-type", wrong), Verdict.WARN, "externalAccountRequired")


def test_binding_reflected(run_check: CheckRunner, required_eab: CheckRunner) -> None:
    assert_verdict(run_check("eab.binding-reflected"), Verdict.SKIP)  # no credentials given
    assert_verdict(run_check("eab.binding-reflected", eab=_eab(run_check)), Verdict.PASS)
    assert_verdict(required_eab("eab.binding-reflected", eab=_eab(required_eab)), Verdict.PASS)
    dropped = edit_json(NEW_ACCOUNT, lambda b: {k: v for k, v in b.items() if k != "externalAccountBinding"})
    assert_verdict(run_check("eab.binding-reflected", dropped, eab=_eab(run_check)), Verdict.FAIL, "as sent")
    refused = problem(NEW_ACCOUNT, 403, "unauthorized")
    assert_verdict(run_check("eab.binding-reflected", refused, eab=_eab(run_check)), Verdict.FAIL, "refused")


@pytest.mark.parametrize("check_id", BAD_BINDINGS)
def test_bad_bindings(run_check: CheckRunner, required_eab: CheckRunner, check_id: str) -> None:
    eab = _eab(run_check)
    assert_verdict(run_check(check_id, eab=eab), Verdict.PASS)
    assert_verdict(run_check(check_id, accept_binding(reflect=True), eab=eab), Verdict.FAIL, "reflected")
    # Accepted without reflection: the CA may have chosen not to verify, unless it requires bindings.
    assert_verdict(run_check(check_id, accept_binding(reflect=False), eab=eab), Verdict.WARN, "not reflected")
    assert_verdict(required_eab(check_id, accept_binding(reflect=False), eab=_eab(required_eab)), Verdict.FAIL,
                   "accepted")


def test_bad_binding_needs_a_client_error(run_check: CheckRunner) -> None:
    crashed = problem(both(NEW_ACCOUNT, has_member("externalAccountBinding")), 500, "serverInternal")
    assert_verdict(run_check("eab.rejects-nonce", crashed, eab=_eab(run_check)), Verdict.FAIL, "4xx")


def test_unverified_not_reflected(run_check: CheckRunner) -> None:
    assert_verdict(run_check("eab.unverified-not-reflected"), Verdict.PASS)
    assert_verdict(run_check("eab.unverified-not-reflected", accept_binding(reflect=False)), Verdict.PASS)
    assert_verdict(run_check("eab.unverified-not-reflected", accept_binding(reflect=True)), Verdict.FAIL, "reflected")


def test_not_updateable(run_check: CheckRunner) -> None:
    eab = _eab(run_check)
    assert_verdict(run_check("eab.not-updateable"), Verdict.SKIP)
    assert_verdict(run_check("eab.not-updateable", eab=eab), Verdict.PASS)
    update = both(ACCOUNT, has_member("externalAccountBinding"))
    replaced: dict[str, object] = {}

    def remember(request, response):  # type: ignore[no-untyped-def]
        if update(request):
            replaced["value"] = jws_payload(request)["externalAccountBinding"]
        return response

    took = chain(remember, edit_json(update, lambda b: {**b, "externalAccountBinding": replaced["value"]}))
    assert_verdict(run_check("eab.not-updateable", took, eab=eab), Verdict.WARN, "binding sent in the update")
