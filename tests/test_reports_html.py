"""report.html in a real headless Chromium: it renders, the filters work, server markup stays text,
and an interrupted run still renders a correct partial report.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import CheckRunner, needs_pebble
from faults import chain, edit_json, path_contains, replace_with, set_header
from junitparser import Error, JUnitXml

from conformance.cli import main
from conformance.events import EVENTS_FILE, EventWriter
from conformance.registry import get_check
from conformance.reports import render_all
from conformance.results import RunRecord, verdict_counts
from conformance.runner import execute_check

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")
SCHEMA = json.loads((Path(__file__).resolve().parent.parent / "conformance" / "schemas" / "results.schema.json").read_text())
# What a hostile server sends: if any of it ran, the title would change or an element would appear.
MARKUP = "<script>document.title='pwned'</script><img src=x id=injected onerror=\"document.title='pwned'\">"


def chromium(url: str, profile: Path, *extra: str) -> str:
    """Load ``url`` headless (scripts run) and return the DOM as the page left it."""
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         f"--user-data-dir={profile}", "--virtual-time-budget=2000", *extra, url],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def dom(run_dir: Path, tmp_path: Path, query: str = "", fragment: str = "") -> str:
    url = (run_dir / "report.html").resolve().as_uri() + query + fragment
    return chromium(url, tmp_path / "chromium-profile", "--dump-dom")


def check_elements(page: str) -> dict[str, str]:
    """check id -> the opening tag of its <details> element in the dumped DOM."""
    return {m.group(2): m.group(0) for m in re.finditer(r'<details class="check[^"]*" id="(check-([^"]+))"[^>]*>', page)}


def hidden(tag: str) -> bool:
    return re.search(r"\shidden(=\"\")?[\s>]", tag) is not None


def mini_run(run_check: CheckRunner, run_dir: Path, check_ids: list[str], hook: Any = None) -> None:
    """What `run` does, in-process, so a fault hook can sit in front of the real Pebble."""
    writer = EventWriter(run_dir / EVENTS_FILE)
    context = run_check.context(hook)
    context.on_exchange = writer.exchange
    record = RunRecord(target={"name": "pebble", "directory_url": context.target.directory_url, "version": None,
                               "notes": {}, "directory": None}, started=time.time(), selection={})
    writer.run_started(record)
    results = []
    try:
        for check_id in check_ids:
            spec = get_check(check_id)
            writer.check_started(spec.describe())
            result = execute_check(context, spec)
            writer.verdict(result)
            results.append(result)
    finally:
        context.close()
    record.ended = time.time()
    writer.run_finished(record, verdict_counts(results))
    writer.close()
    render_all(run_dir)


@pytest.fixture(scope="module")
def hostile_run(run_check: CheckRunner, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run in which the server puts markup into a problem detail, a header and the directory."""
    run_dir = tmp_path_factory.mktemp("hostile")
    hook = chain(
        replace_with(path_contains("/nonce-plz", "GET"), 400,
                     {"type": "urn:ietf:params:acme:error:malformed", "detail": MARKUP}),
        set_header(path_contains("/nonce-plz", "HEAD"), "X-Note", MARKUP),
        edit_json(path_contains("/dir", "GET"), lambda d: {**d, "meta": {**d.get("meta", {}), "website": MARKUP}}),
    )
    mini_run(run_check, run_dir, ["nonce.get-returns-204", "nonce.head-returns-200", "nonce.cache-control-no-store",
                                  "directory.get-returns-json-object", "directory.meta-member-types"], hook)
    return run_dir


@needs_pebble
@needs_chromium
def test_server_markup_is_shown_as_text_never_executed(hostile_run: Path, tmp_path: Path) -> None:
    raw = (hostile_run / "report.html").read_text()
    assert MARKUP not in raw and "<img src=x" not in raw  # escaped in the file
    assert raw.count("&lt;script&gt;document.title=") >= 3  # problem detail, header, directory
    page = dom(hostile_run, tmp_path)
    assert "<title>ACME conformance: pebble</title>" in page and "pwned</title>" not in page
    assert 'id="injected"' not in page and "<img" not in page
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x id=injected" in page
    assert 'data-ready="1"' in page  # our own script did run (its CSP hash matches)
    results = json.loads((hostile_run / "results.json").read_text())
    assert not list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(results))
    verdicts = {c["id"]: c["verdict"] for c in results["checks"]}
    assert verdicts["nonce.get-returns-204"] == "FAIL"


@needs_pebble
@needs_chromium
def test_filters_by_verdict_area_and_level(hostile_run: Path, tmp_path: Path) -> None:
    results = json.loads((hostile_run / "results.json").read_text())
    by_id = {c["id"]: c for c in results["checks"]}
    assert {c["verdict"] for c in by_id.values()} >= {"PASS", "FAIL"}

    everything = check_elements(dom(hostile_run, tmp_path))
    assert set(everything) == set(by_id) and not any(hidden(tag) for tag in everything.values())

    failures = check_elements(dom(hostile_run, tmp_path, "?verdict=FAIL"))
    for check_id, tag in failures.items():
        assert hidden(tag) == (by_id[check_id]["verdict"] != "FAIL"), check_id

    page = dom(hostile_run, tmp_path, "?area=directory&level=MUST")
    for check_id, tag in check_elements(page).items():
        visible = by_id[check_id]["area"] == "directory" and by_id[check_id]["level"] == "MUST"
        assert hidden(tag) != visible, check_id
    shown = sum(1 for c in by_id.values() if c["area"] == "directory" and c["level"] == "MUST")
    assert f"{shown} of {len(by_id)} checks shown" in page

    # A link to one check opens it even when a filter would hide it.
    target = next(i for i, c in by_id.items() if c["verdict"] == "PASS")
    linked = check_elements(dom(hostile_run, tmp_path, "?verdict=FAIL", f"#check-{target}"))[target]
    assert not hidden(linked) and " open" in linked


@needs_pebble
@needs_chromium
def test_report_shows_the_evidence(hostile_run: Path, tmp_path: Path) -> None:
    results = json.loads((hostile_run / "results.json").read_text())
    shot = tmp_path / "report.png"
    chromium((hostile_run / "report.html").resolve().as_uri(), tmp_path / "profile", "--window-size=1280,1200",
             f"--screenshot={shot}")
    assert shot.stat().st_size > 10_000  # a real picture was drawn, not a blank page
    raw = (hostile_run / "report.html").read_text()
    for check in results["checks"]:
        assert f'id="check-{check["id"]}"' in raw
        for exchange in check["exchanges"]:
            assert f'id="ex-{exchange["id"]}"' in raw
    failing = next(c for c in results["checks"] if c["verdict"] == "FAIL" and c["expected"])
    section = raw.split(f'id="check-{failing["id"]}"', 1)[1].split('<details class="check', 1)[0]
    from markupsafe import escape

    for text in (failing["section"], failing["sentence"], failing["message"], failing["expected"], failing["actual"]):
        assert str(escape(text)) in section
    assert "Replay-Nonce" in raw and "ms ·" in raw  # headers and timing of the transcript
    assert 'class="seg v-FAIL"' in raw  # the summary picture
    head = raw.split("<body>", 1)[0]
    assert "default-src 'none'" in head and "<link" not in head  # no external resource can load


def _wait_for(predicate: Any, what: str, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.communicate()
    pytest.fail(f"the run never got to: {what}")


@needs_pebble
@needs_chromium
def test_interrupted_run_renders_a_partial_report(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    events = run_dir / EVENTS_FILE
    # Pebble's validation sleep keeps issuance.http-01 busy: SIGINT arrives in the middle of it.
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(run_dir), "--select", "directory.*",
         "--select", "issuance.http-01", "--workers", "2", "--pebble-env", "PEBBLE_VA_NOSLEEP=0",
         "--pebble-env", "PEBBLE_VA_SLEEPTIME=30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )

    def under_way() -> bool:
        text = events.read_text() if events.exists() else ""
        # the issuance check has sent its challenge response and directory checks have verdicts
        return '"check-started"' in text and "issuance.http-01" in text and text.count('"type":"verdict"') >= 2 \
            and '"owner":"check:issuance.http-01"' in text and "/chalZ/" in text

    _wait_for(under_way, "issuance.http-01 waiting for validation", proc)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130

    results = json.loads((run_dir / "results.json").read_text())
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(results))
    assert not errors, errors[:3]
    assert results["interrupted"] is True and results["ended"]
    assert results["unfinished"] == ["issuance.http-01"]
    unfinished = results["unfinished_checks"][0]
    assert unfinished["id"] == "issuance.http-01" and unfinished["exchanges"]  # what it sent so far
    assert results["checks"] and all(c["id"].startswith("directory.") for c in results["checks"])

    junit = JUnitXml.fromfile(str(run_dir / "junit.xml"))
    cases = {case.name: case for suite in junit for case in suite}
    assert {type(r) for r in cases["issuance.http-01"].result} == {Error}

    page = dom(run_dir, tmp_path)
    assert 'id="interrupted-banner"' in page and 'data-ready="1"' in page
    tag = check_elements(page)["issuance.http-01"]
    assert 'data-verdict="UNFINISHED"' in tag and not hidden(tag)
    for exchange in unfinished["exchanges"]:
        assert f'id="ex-{exchange["id"]}"' in page

    # The partial report re-renders from the stream alone, identically.
    before = (run_dir / "results.json").read_text()
    assert main(["report", str(run_dir), "--format", "json"]) == 0
    assert (run_dir / "results.json").read_text() == before
