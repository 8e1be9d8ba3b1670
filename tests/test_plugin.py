"""The pytest plugin (conformance/pytest_plugin.py), run as users run it: ``python -m pytest`` in a
fresh folder, against the real Pebble (started by the plugin) or a port nobody answers on.

Small selections keep it fast; faults come from a conftest that puts tests/faults.py hooks in front
of Pebble, or from baselines that disagree with what Pebble really does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.netutil import free_port

TESTS = Path(__file__).resolve().parent
needs_pebble = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble binary not installed")

# Pebble 2.4.0 answers these as PASS except the Cache-Control one (a real deviation, RFC 8555 §7.2).
NONCE_IDS = ["nonce.cache-control-no-store", "nonce.get-returns-204", "nonce.head-has-replay-nonce",
             "nonce.head-returns-200"]
SELECT = [arg for check_id in NONCE_IDS for arg in ("--acme-select", check_id)]
# Plugins this suite does not need, left out of the child runs only to start them faster.
QUIET_PLUGINS = ["-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:anyio", "-p", "no:cacheprovider"]

# Fault injection for a child run: every RunContext the harness configures gets this response hook.
FAULT_CONFTEST = """
import sys
sys.path.insert(0, {tests!r})
from faults import path_contains, set_status
from conformance import harness

_original = harness.Harness.run_options
HOOK = set_status(path_contains("nonce", "HEAD"), 204)  # breaks a SHOULD: nonce.head-returns-200 WARNs


def run_options(self, **extra):
    return _original(self, response_hook=HOOK, **extra)


harness.Harness.run_options = run_options
"""


@dataclass
class Run:
    returncode: int
    output: str
    junit: dict[str, dict[str, str]]  # check id -> outcome, verdict, disposition, message


def run_pytest(folder: Path, *args: str, plugin_flag: bool = True) -> Run:
    folder.mkdir(parents=True, exist_ok=True)
    junit = folder / "junit.xml"
    junit.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", *QUIET_PLUGINS, f"--junitxml={junit}", "-rA", *args]
    if plugin_flag:
        command[3:3] = ["-p", "conformance.pytest_plugin"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=180, env=env)
    return Run(done.returncode, done.stdout + done.stderr, parse_junit(junit) if junit.exists() else {})


def parse_junit(path: Path) -> dict[str, dict[str, str]]:
    cases: dict[str, dict[str, str]] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "") + (child.text or "")
        cases[case.get("name", "")] = {"classname": case.get("classname", ""), "outcome": outcome,
                                       "verdict": props.get("acme_verdict", ""),
                                       "disposition": props.get("acme_disposition", ""), "message": message}
    return cases


def baseline(folder: Path, *entries: tuple[str, str]) -> Path:
    path = folder / "baseline.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f'[[expected]]\ncheck = "{c}"\nverdict = "{v}"\nreason = "test entry"\n\n'
                            for c, v in entries), encoding="utf-8")
    return path


def test_inert_without_acme_options(tmp_path: Path) -> None:
    (tmp_path / "test_own.py").write_text("def test_own():\n    assert 1 + 1 == 2\n", encoding="utf-8")
    run = run_pytest(tmp_path, plugin_flag=False)  # loaded through the pytest11 entry point only
    assert run.returncode == 0, run.output
    assert list(run.junit) == ["test_own"]
    assert "acme::" not in run.output and " acme-conformance =" not in run.output  # no items, no summary


def acme_ids(run: Run) -> list[str]:
    return [line for line in run.output.splitlines() if line.startswith("acme::")]


def test_collection_by_check_id_markers_and_k(tmp_path: Path) -> None:
    run = run_pytest(tmp_path, "--acme", "--collect-only", "-q", "--strict-markers", "--acme-select", "nonce.*",
                     "--acme-select", "directory.*")
    assert run.returncode == 0, run.output
    ids = acme_ids(run)
    assert "acme::nonce.get-returns-204" in ids and "acme::directory.has-new-nonce" in ids
    assert all(line.split("::", 1)[1].startswith(("nonce.", "directory.")) for line in ids)

    # -k on ids, -m on the level marker (head-returns-200 is a SHOULD, so "must" leaves it out).
    k_and_m = run_pytest(tmp_path, "--acme", "--collect-only", "-q", "--acme-select", "nonce.*",
                         "-k", "get-returns-204 or head-returns-200", "-m", "must")
    assert acme_ids(k_and_m) == ["acme::nonce.get-returns-204"], k_and_m.output

    should = run_pytest(tmp_path, "--acme", "--collect-only", "-q", "--strict-markers", "--acme-select", "nonce.*",
                        "-m", "should and rfc8555_s7_2 and rfc8555_s7 and tag_basic and area_nonce and grade_warn")
    assert acme_ids(should) == ["acme::nonce.head-returns-200"], should.output


@needs_pebble
def test_serial_and_xdist_agree_and_a_new_failure_fails(tmp_path: Path) -> None:
    serial = run_pytest(tmp_path / "serial", "--acme", *SELECT)
    # The Cache-Control deviation is not baselined here: a new failure, so the run fails.
    assert serial.returncode == 1, serial.output
    assert sorted(serial.junit) == NONCE_IDS
    assert {c["classname"] for c in serial.junit.values()} == {"acme"}
    failed = serial.junit["nonce.cache-control-no-store"]
    assert (failed["outcome"], failed["verdict"], failed["disposition"]) == ("failure", "FAIL", "new")
    assert "no-cache" in failed["message"] and "RFC 8555 §7.2" in failed["message"]
    assert all(serial.junit[i]["outcome"] == "passed" and serial.junit[i]["verdict"] == "PASS" for i in NONCE_IDS[1:])
    assert "new failures: 1" in serial.output

    parallel = run_pytest(tmp_path / "xdist", "--acme", *SELECT, "-n", "2")
    assert parallel.returncode == 1, parallel.output
    assert "2 workers" in parallel.output or "created: 2/2 workers" in parallel.output
    assert {k: (v["outcome"], v["verdict"]) for k, v in parallel.junit.items()} == {
        k: (v["outcome"], v["verdict"]) for k, v in serial.junit.items()}


@needs_pebble
def test_baselined_failure_passes_warn_policy_and_stale_entry(tmp_path: Path) -> None:
    # HEAD newNonce answers 204 through the fault layer: nonce.head-returns-200 (a SHOULD) WARNs.
    (tmp_path / "conftest.py").write_text(FAULT_CONFTEST.format(tests=str(TESTS)), encoding="utf-8")
    known = baseline(tmp_path, ("nonce.cache-control-no-store", "FAIL"))
    ok = run_pytest(tmp_path, "--acme", *SELECT, "--acme-baseline", str(known), "--acme-report-dir", "report")
    assert ok.returncode == 0, ok.output
    expected = ok.junit["nonce.cache-control-no-store"]
    assert (expected["outcome"], expected["disposition"]) == ("skipped", "expected")  # junit's xfail
    assert "XFAIL acme::nonce.cache-control-no-store" in ok.output
    assert "no new failures, no stale entries" in ok.output
    warned = ok.junit["nonce.head-returns-200"]
    assert (warned["outcome"], warned["verdict"], warned["disposition"]) == ("passed", "WARN", "noted")
    assert "AcmeConformanceWarning: nonce.head-returns-200: WARN (SHOULD)" in ok.output
    results = (tmp_path / "report" / "results.json").read_text(encoding="utf-8")
    assert '"nonce.cache-control-no-store"' in results  # the run folder holds the evidence too

    # --acme-fail-on warn turns the WARN into a failure; and Pebble answers GET newNonce correctly,
    # so an entry expecting nonce.get-returns-204 to FAIL is stale and fails the run, named.
    stale = baseline(tmp_path, ("nonce.cache-control-no-store", "FAIL"), ("nonce.get-returns-204", "FAIL"))
    run = run_pytest(tmp_path, "--acme", *SELECT, "--acme-baseline", str(stale), "--acme-fail-on", "warn")
    assert run.returncode == 1, run.output
    assert run.junit["nonce.head-returns-200"]["outcome"] == "failure"
    assert "204" in run.junit["nonce.head-returns-200"]["message"]
    case = run.junit["nonce.get-returns-204"]
    assert case["outcome"] == "failure" and case["verdict"] == "PASS"
    assert f"stale baseline entry for nonce.get-returns-204 ({stale} entry 2)" in case["message"]
    assert "stale baseline entries: 1" in run.output and "now gives PASS" in run.output
    assert run.junit["nonce.cache-control-no-store"]["outcome"] == "skipped"  # still expected


def test_unreachable_server_is_could_not_test(tmp_path: Path) -> None:
    url = f"https://127.0.0.1:{free_port()}/dir"  # nothing listens there
    run = run_pytest(tmp_path, "--acme-directory", url, "--acme-insecure", "--acme-select", "nonce.get-returns-204",
                     "--acme-select", "nonce.head-returns-200")
    assert run.returncode == 1, run.output
    assert "2 errors" in run.output and "ERROR (could not test) acme::nonce.get-returns-204" in run.output
    for case in run.junit.values():
        assert case["verdict"] == "ERROR" and case["disposition"] == "could-not-test"
        assert "could not test" in case["message"] and url in case["message"]


def test_usage_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('[[expected]]\ncheck = "nonce.get-returns-204"\nverdict = "FAIL"\n', encoding="utf-8")
    run = run_pytest(tmp_path, "--acme", "--acme-baseline", str(broken), "--collect-only")
    assert run.returncode == 4 and "'reason' is missing" in run.output, run.output
    bad_tag = run_pytest(tmp_path, "--acme", "--acme-tag", "nope", "--collect-only")
    assert bad_tag.returncode == 4 and "unknown tag" in bad_tag.output, bad_tag.output
    typo = baseline(tmp_path, ("nonce.no-such-check", "FAIL"))
    warned = run_pytest(tmp_path, "--acme", "--acme-baseline", str(typo), "--acme-select", "nonce.*", "--collect-only")
    assert warned.returncode == 0 and "names no known check 'nonce.no-such-check'" in warned.output, warned.output


def test_ini_options_enable_and_configure(tmp_path: Path) -> None:
    # The unknown id makes the plugin say it read this file (resolved next to the ini, not the cwd).
    baseline(tmp_path / "baselines", ("nonce.cache-control-no-store", "FAIL"), ("nonce.from-the-ini", "FAIL"))
    (tmp_path / "pytest.ini").write_text(textwrap.dedent("""\
        [pytest]
        acme_conformance = true
        acme_baseline = baselines/baseline.toml
        acme_fail_on = warn
        """), encoding="utf-8")
    run = run_pytest(tmp_path / "sub", "-c", str(tmp_path / "pytest.ini"), "--rootdir", str(tmp_path),
                     "--collect-only", "-q", "--acme-select", "nonce.get-*")
    assert run.returncode == 0, run.output
    assert [line for line in run.output.splitlines() if line.startswith("acme::")] == ["acme::nonce.get-returns-204"]
    assert "names no known check 'nonce.from-the-ini'" in run.output


SIGTERM_CONFTEST = """
import os
import signal
from pathlib import Path


def _children(name):
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if comm == name and int(rest[1]) == os.getpid():
            pids.append(stat.parent.name)
    return pids


def pytest_runtest_teardown(item):
    Path("pebble.pids").write_text(" ".join(_children("pebble")))
    os.kill(os.getpid(), signal.SIGTERM)  # as a cancelled CI job does
"""


@needs_pebble
def test_sigterm_stops_the_embedded_server(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(SIGTERM_CONFTEST, encoding="utf-8")
    run = run_pytest(tmp_path, "--acme", "--acme-select", "nonce.get-returns-204", "--acme-select",
                     "nonce.head-returns-200")
    pids = (tmp_path / "pebble.pids").read_text(encoding="utf-8").split()
    try:
        assert pids, "the plugin did not start Pebble"
        assert run.returncode == 2, run.output  # pytest's "interrupted", not killed by the signal
        assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    finally:
        for pid in pids:
            if Path(f"/proc/{pid}").exists():
                os.kill(int(pid), 9)
