"""Every report format from one real run against the embedded Pebble, and `report`/`diff`/`matrix`.

The run happens in-process (conformance.cli.main) so the test knows every private key the run
made (AccountKey and CSR keys are recorded as they are created) and the EAB HMAC key it passed;
it then proves none of them reaches any artefact.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import needs_pebble
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from junitparser import Error, Failure, JUnitXml, Skipped

from conformance.cli import main
from conformance.commands.report import diff_documents
from conformance.jws import AccountKey

SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "conformance" / "schemas" / "results.schema.json").read_text())
FORMAT_FILES = {"json": "results.json", "junit": "junit.xml", "html": "report.html", "har": "exchanges.har"}
SELECTION = ["--select", "directory.*", "--select", "nonce.*", "--select", "issuance.http-01",
             "--select", "revocation.*", "--select", "eab.*", "--select", "account.create-returns-201",
             # uses the run's shared issuance: its transcript refers to set-up exchanges by id
             "--select", "headers.certificate-media-type"]


def validate_results(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


class RunArtefacts:
    def __init__(self, run_dir: Path, code: int, private_keys: list[Any], hmac_key: bytes) -> None:
        self.run_dir = run_dir
        self.code = code
        self.private_keys = private_keys
        self.hmac_key = hmac_key

    def results(self) -> dict[str, Any]:
        return json.loads((self.run_dir / "results.json").read_text())


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunArtefacts]:
    if shutil.which("pebble") is None:
        pytest.skip("pebble binary not installed")
    run_dir = tmp_path_factory.mktemp("reports") / "run"
    hmac_key = secrets.token_bytes(32)
    keys: list[Any] = []
    original_init = AccountKey.__init__
    original_ec = ec.generate_private_key

    def recording_init(self: AccountKey, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        keys.append(self.private_key)

    def recording_ec(*args: Any, **kwargs: Any) -> Any:
        key = original_ec(*args, **kwargs)
        keys.append(key)
        return key

    previous_sigterm = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(AccountKey, "__init__", recording_init)
        patch.setattr(ec, "generate_private_key", recording_ec)
        code = main(["run", *SELECTION, "--report-dir", str(run_dir), "-q",
                     "--eab-kid", "report-test-kid",
                     # "=": a base64url key may start with "-", which argparse would take for an option
                     "--eab-hmac-key=" + base64.urlsafe_b64encode(hmac_key).decode().rstrip("=")])
    signal.signal(signal.SIGTERM, previous_sigterm)
    yield RunArtefacts(run_dir, code, keys, hmac_key)


@needs_pebble
def test_run_produces_every_format(real_run: RunArtefacts) -> None:
    for name in FORMAT_FILES.values():
        assert (real_run.run_dir / name).is_file(), name
    results = real_run.results()
    validate_results(results)
    assert results["interrupted"] is False and results["unfinished"] == []
    verdicts = {c["id"]: c["verdict"] for c in results["checks"]}
    assert verdicts["nonce.cache-control-no-store"] == "FAIL"  # the Pebble deviation (see baselines)
    assert verdicts["issuance.http-01"] == "PASS"
    assert real_run.code == 1


@needs_pebble
def test_report_rerenders_every_format_from_events_alone(real_run: RunArtefacts, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copyfile(real_run.run_dir / "events.ndjson", copy / "events.ndjson")
    assert main(["report", str(copy)]) == 0
    for name in FORMAT_FILES.values():
        assert (copy / name).is_file(), name
    # Same document, same JUnit and HAR: nothing in them came from anywhere but the stream.
    assert json.loads((copy / "results.json").read_text()) == real_run.results()
    for name in ("junit.xml", "exchanges.har"):
        assert (copy / name).read_text() == (real_run.run_dir / name).read_text(), name
    # One format at a time, too.
    (copy / "junit.xml").unlink()
    assert main(["report", str(copy), "--format", "junit"]) == 0
    assert (copy / "junit.xml").is_file()


def test_report_refuses_a_folder_that_is_not_a_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written into a folder that is not a run


@needs_pebble
def test_report_rejects_unknown_format(real_run: RunArtefacts, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(real_run.run_dir), "--format", "json,pdf"]) == 2
    assert "pdf" in capsys.readouterr().err


@needs_pebble
def test_junit_parses_with_a_suite_per_area(real_run: RunArtefacts) -> None:
    results = real_run.results()
    xml = JUnitXml.fromfile(str(real_run.run_dir / "junit.xml"))
    suites = {suite.name: suite for suite in xml}
    areas = {c["area"] for c in results["checks"]}
    assert set(suites) == areas
    by_id = {c["id"]: c for c in results["checks"]}
    seen = set()
    for area, suite in suites.items():
        cases = list(suite)
        assert suite.tests == len(cases) == sum(1 for c in results["checks"] if c["area"] == area)
        for case in cases:
            check = by_id[case.name]
            seen.add(case.name)
            assert case.classname == f"acme-conformance.{area}"
            kinds = {type(r) for r in case.result}
            expected = {"FAIL": {Failure}, "ERROR": {Error}, "SKIP": {Skipped}}.get(check["verdict"], set())
            assert kinds == expected, (case.name, check["verdict"], kinds)
            if check["verdict"] == "FAIL":
                message = case.result[0].message
                assert check["expected"] in message and check["actual"] in message
        assert suite.failures == sum(1 for c in cases if by_id[c.name]["verdict"] == "FAIL")
    assert seen == set(by_id)
    assert xml.failures == results["counts"]["FAIL"] and xml.tests == len(results["checks"])


@needs_pebble
def test_har_holds_every_exchange(real_run: RunArtefacts) -> None:
    results = real_run.results()
    har = json.loads((real_run.run_dir / "exchanges.har").read_text())
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "acme-conformance"
    ids = {e["id"] for c in results["checks"] for e in c["exchanges"]} | {e["id"] for e in results["setup_exchanges"]}
    assert sorted(e["_exchangeId"] for e in log["entries"]) == sorted(ids)
    pages = {p["id"] for p in log["pages"]}
    for item in log["entries"]:
        assert item["pageref"] in pages
        for member in ("startedDateTime", "time", "request", "response", "cache", "timings"):
            assert member in item
        request, response = item["request"], item["response"]
        for member in ("method", "url", "httpVersion", "cookies", "headers", "queryString", "headersSize", "bodySize"):
            assert member in request
        for member in ("status", "statusText", "httpVersion", "cookies", "headers", "content", "redirectURL"):
            assert member in response
        assert item["startedDateTime"].endswith("+00:00")
    posts = [e for e in log["entries"] if e["request"]["method"] == "POST"]
    assert posts and all(e["request"]["postData"]["mimeType"] == "application/jose+json" for e in posts)
    assert all("_jws" in e and "protected" in e["_jws"] for e in posts)


def _private_forms(key: Any) -> list[str]:
    """Text forms of a private key's secret part that an artefact might contain."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    # The whole encoding (single PEM lines also hold the public key, which a CSR or JWK rightly shows).
    forms = ["".join(line for line in pem.decode().splitlines() if "-----" not in line)]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        size = (key.curve.key_size + 7) // 8
        secret = key.private_numbers().private_value.to_bytes(size, "big")
    elif isinstance(key, rsa.RSAPrivateKey):
        d = key.private_numbers().d
        secret = d.to_bytes((d.bit_length() + 7) // 8, "big")
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        secret = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                   serialization.NoEncryption())
    else:
        secret = b""
    if secret:
        forms += [base64.urlsafe_b64encode(secret).decode().rstrip("="), base64.b64encode(secret).decode().rstrip("="),
                  secret.hex()]
    return forms


@needs_pebble
def test_no_artefact_holds_a_private_key_or_the_hmac_key(real_run: RunArtefacts) -> None:
    results = real_run.results()
    # The run did use keys (accounts, CSRs) and the EAB checks used the HMAC key.
    assert len(real_run.private_keys) >= 3
    assert any(c["id"].startswith("eab.") for c in results["checks"])
    hmac = real_run.hmac_key
    needles = {
        "hmac b64url": base64.urlsafe_b64encode(hmac).decode().rstrip("="),
        "hmac b64": base64.b64encode(hmac).decode().rstrip("="),
        "hmac hex": hmac.hex(),
    }
    for number, key in enumerate(real_run.private_keys):
        for form in _private_forms(key):
            needles[f"key {number}: {form[:12]}"] = form
    artefacts = [p for p in real_run.run_dir.rglob("*") if p.is_file()]
    assert {p.name for p in artefacts} >= set(FORMAT_FILES.values()) | {"events.ndjson"}
    for path in artefacts:
        text = path.read_bytes().decode("utf-8", "replace")
        assert "PRIVATE KEY-----" not in text, path.name
        for label, needle in needles.items():
            assert needle not in text, f"{label} found in {path.name}"


@needs_pebble
def test_diff_lists_new_failures_fixed_and_changed(real_run: RunArtefacts, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    before = tmp_path / "before"
    before.mkdir()
    # An edited copy of the real stream: one FAIL turned PASS, one PASS turned FAIL, one PASS to WARN.
    events = [json.loads(line) for line in (real_run.run_dir / "events.ndjson").read_text().splitlines()]
    verdicts = [e["result"] for e in events if e["type"] == "verdict"]
    passing = [r for r in verdicts if r["verdict"] == "PASS"]
    failing = next(r for r in verdicts if r["verdict"] == "FAIL")
    failing["verdict"] = "PASS"
    passing[0]["verdict"], passing[1]["verdict"] = "FAIL", "WARN"
    (before / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))

    # before -> real: the edited FAIL is a new failure of the real run, passing[0] was fixed.
    assert main(["diff", str(before), str(real_run.run_dir)]) == 1
    out = capsys.readouterr().out
    assert f"{failing['id']}: PASS -> FAIL" in out
    assert f"{passing[0]['id']}: FAIL -> PASS" in out
    assert f"{passing[1]['id']}: WARN -> PASS" in out
    # The other way round there is a new failure too; a run compared with itself has none.
    assert main(["diff", str(real_run.run_dir), str(real_run.run_dir)]) == 0
    assert main(["diff", str(real_run.run_dir), str(before)]) == 1
    capsys.readouterr()
    diff = diff_documents(real_run.results(), json.loads(json.dumps(real_run.results())))
    assert not (diff.new_failures or diff.fixed or diff.changed or diff.added or diff.removed)


@needs_pebble
def test_diff_json_output(real_run: RunArtefacts, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fewer = tmp_path / "fewer"
    fewer.mkdir()
    lines = (real_run.run_dir / "events.ndjson").read_text().splitlines()
    kept = [line for line in lines if not ('"type":"verdict"' in line and "nonce.cache-control-no-store" in line)]
    (fewer / "events.ndjson").write_text("\n".join(kept) + "\n")
    assert main(["diff", str(fewer), str(real_run.run_dir), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["new_failures"] == [{"id": "nonce.cache-control-no-store", "before": None, "after": "FAIL"}]
    assert data["fixed"] == [] and data["changed"] == []


def test_diff_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    assert main(["diff", str(tmp_path), str(tmp_path)]) == 2


@needs_pebble
def test_matrix_links_every_cell_to_the_evidence(real_run: RunArtefacts, tmp_path: Path) -> None:
    second = tmp_path / "second"
    second.mkdir()
    events = [json.loads(line) for line in (real_run.run_dir / "events.ndjson").read_text().splitlines()]
    for event in events:
        if event["type"] == "run-started":
            event["target"]["name"] = "other-ca"
        if event["type"] == "verdict" and event["result"]["id"] == "nonce.cache-control-no-store":
            event["result"]["verdict"] = "PASS"  # the other server gets this one right
    (second / "events.ndjson").write_text("".join(json.dumps(e) + "\n" for e in events))
    out = tmp_path / "matrix"
    assert main(["matrix", str(real_run.run_dir), str(second), "--output", str(out)]) == 0
    assert (second / "report.html").is_file()  # rendered because the cells link into it
    markdown = (out / "matrix.md").read_text()
    html = (out / "matrix.html").read_text()
    results = real_run.results()
    assert "| check | section | level | pebble | other-ca |" in markdown
    for check in results["checks"]:
        anchor = f"check-{check['id']}"
        for run in (real_run.run_dir, second):
            assert f'id="{anchor}"' in (run / "report.html").read_text()  # the anchor a cell points to exists
            link = f"{_relative(out, run)}/report.html#{anchor}"
            verdict = "PASS" if run == second and check["id"] == "nonce.cache-control-no-store" else check["verdict"]
            assert f'class="badge v-{verdict}" href="{link}"' in html
            assert f"[{verdict}]({link})" in markdown
    differing = re.findall(r'<tr id="row-([^"]+)" class="differs">', html)
    assert differing == ["nonce.cache-control-no-store"]


def _relative(base: Path, target: Path) -> str:
    import os

    return Path(os.path.relpath(target.resolve(), base.resolve())).as_posix()


@needs_pebble
def test_html_refers_to_setup_exchanges_by_id(real_run: RunArtefacts) -> None:
    results = real_run.results()
    html = (real_run.run_dir / "report.html").read_text()
    setup_section = html.split('<section id="setup">', 1)[1]
    users = [c for c in results["checks"] if c["setup_exchanges"]]
    assert users, "no check of the selection used a shared fixture"
    setup_ids = {e["id"] for e in results["setup_exchanges"]}
    for check in users:
        section = html.split(f'id="check-{check["id"]}"', 1)[1].split('<details class="check', 1)[0]
        for exchange_id in check["setup_exchanges"]:
            assert exchange_id in setup_ids
            assert f'href="#ex-{exchange_id}"' in section
            assert f'id="ex-{exchange_id}"' in setup_section


@needs_pebble
def test_html_transcript_shows_decoded_jws_and_timing(real_run: RunArtefacts) -> None:
    from markupsafe import escape

    check = next(c for c in real_run.results()["checks"] if c["id"] == "issuance.http-01")
    html = (real_run.run_dir / "report.html").read_text()
    section = html.split('id="check-issuance.http-01"', 1)[1].split('<details class="check', 1)[0]
    signed = [e for e in check["exchanges"] if e["request"]["jws"]]
    assert signed and section.count("JWS protected header (decoded)") == len(signed)
    for exchange in check["exchanges"]:
        assert f'id="ex-{exchange["id"]}"' in section
        assert f'{exchange["duration"] * 1000:.1f} ms' in section
        for name, value in exchange["response"]["headers"]:
            assert f"<th>{escape(name)}</th><td>{escape(value)}</td>" in section
    nonce = signed[0]["request"]["jws"]["protected"]["nonce"]
    assert str(escape(json.dumps(nonce))) in section  # the decoded header, not only the base64 body


def test_disagreement_note_says_which_server_the_rfc_supports() -> None:
    from conformance.commands.report import disagreement_note

    labels = ["pebble", "acme2certifier"]
    assert disagreement_note(labels, ["PASS", "FAIL"], "RFC 8555 §7.2") == \
        "RFC 8555 §7.2 supports pebble; acme2certifier deviate(s)"
    note = disagreement_note(labels, ["FAIL", "WARN"], "RFC 8555 §6.2")
    assert note.startswith("RFC 8555 §6.2 supports neither") and "pebble FAIL" in note
    assert "not comparable for acme2certifier SKIP" in disagreement_note(labels, ["PASS", "SKIP"], "§7.4.1")
    only_one = disagreement_note(labels, ["SKIP", "FAIL"], "RFC 9773 §5")
    assert only_one.startswith("acme2certifier FAIL: deviates from RFC 9773 §5") and "neither" not in only_one
    assert "a choice the RFC leaves to the server" in disagreement_note(labels, ["PASS", "INFO"], "§7.4")
