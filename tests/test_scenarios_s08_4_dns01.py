"""Fail/pass proofs for the dns-01 checks (scenarios/s08_4_dns01.py)."""

from __future__ import annotations

import pytest
from conftest import CheckRunner, assert_verdict
from faults_challenges import flip, on

from conformance.model import Verdict

IDS = ["dns01.txt-lookup", "dns01.one-of-several-records", "dns01.wrong-record-fails", "dns01.wildcard-base-name"]


@pytest.mark.parametrize("check_id", IDS)
def test_passes_on_pebble(run_check: CheckRunner, check_id: str) -> None:
    assert_verdict(run_check(check_id), Verdict.PASS)


@pytest.mark.parametrize(
    ("check_id", "hook"),
    [
        ("dns01.one-of-several-records", flip("valid", "invalid")),
        ("dns01.wrong-record-fails", flip("invalid", "valid")),
        ("dns01.txt-lookup", flip("valid", "invalid")),
        ("dns01.wildcard-base-name", flip("valid", "invalid")),
    ],
)
def test_fails_on_fault(run_check: CheckRunner, check_id: str, hook) -> None:  # type: ignore[no-untyped-def]
    assert_verdict(run_check(check_id, hook), Verdict.WARN)


def test_lookup_under_another_name_fails(run_check: CheckRunner) -> None:
    """Told the authorization is for another name, the check finds no TXT query for it."""
    hook = on("/authZ/", lambda r, b: b["identifier"].__setitem__("value", "never-queried.example")
              if b.get("status") == "valid" else None)
    assert_verdict(run_check("dns01.txt-lookup", hook), Verdict.WARN, "TXT")


def test_wrong_error_type_fails(run_check: CheckRunner) -> None:
    def edit(_request, body):  # type: ignore[no-untyped-def]
        for item in body.get("challenges") or []:
            if "error" in item:
                item["error"]["type"] = "urn:ietf:params:acme:error:badCSR"

    assert_verdict(run_check("dns01.wrong-record-fails", on("/authZ/", edit)), Verdict.WARN, "badCSR")
