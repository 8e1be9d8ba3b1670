"""``acme-conformance run --baseline/--fail-on`` and ``acme-conformance baseline --from`` against Pebble.

The CLI runs in a child process, as in CI; the fault layer (tests/faults.py) is put in front of
Pebble by a small driver script where a WARN is needed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.cli import main

TESTS = Path(__file__).resolve().parent
pytestmark = pytest.mark.skipif(shutil.which("pebble") is None, reason="pebble binary not installed")

NONCE_IDS = ["nonce.cache-control-no-store", "nonce.get-returns-204", "nonce.head-has-replay-nonce",
             "nonce.head-returns-200"]
SELECT = [arg for check_id in NONCE_IDS for arg in ("--select", check_id)]

DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from faults import path_contains, set_status
from conformance import harness
from conformance.cli import main

_original = harness.Harness.run_options
HOOK = set_status(path_contains("nonce", "HEAD"), 204)  # nonce.head-returns-200 (a SHOULD) WARNs


def run_options(self, **extra):
    return _original(self, response_hook=HOOK, **extra)


harness.Harness.run_options = run_options
sys.exit(main(sys.argv[1:]))
"""


def cli(cwd: Path, *args: str, faulty: bool = False) -> subprocess.CompletedProcess[str]:
    if faulty:
        driver = cwd / "driver.py"
        driver.write_text(DRIVER.format(tests=str(TESTS)), encoding="utf-8")
        command = [sys.executable, str(driver), *args]
    else:
        command = [sys.executable, "-m", "conformance", *args]
    env = {**os.environ, "COLUMNS": "200"}  # long lines unwrapped, so messages can be matched whole
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180, env=env)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def local(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    """The CLI in this process, for commands that start no server (no process start: faster)."""
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's own usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return Result(code, out, err)


def test_new_failure_baseline_from_run_and_stale_entry(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = cli(tmp_path, "run", *SELECT, "--report-dir", "run-1")
    assert first.returncode == 1, first.stdout + first.stderr  # the Cache-Control FAIL is not baselined

    # A starting baseline from that run: the FAIL, its reason drafted with TODO.
    made = local(capsys, "baseline", "--from", "run-1", "--output", "pebble.toml")
    assert made.returncode == 0, made.stderr
    assert "wrote 1 entry to pebble.toml" in made.stderr
    draft = tomllib.loads((tmp_path / "pebble.toml").read_text(encoding="utf-8"))
    [entry] = draft["expected"]
    assert (entry["check"], entry["verdict"]) == ("nonce.cache-control-no-store", "FAIL")
    assert entry["reason"].startswith("TODO: ") and "no-cache" in entry["reason"] and "RFC 8555 §7.2" in entry["reason"]
    again = local(capsys, "baseline", "--from", "run-1", "--output", "pebble.toml")
    assert again.returncode == 2 and "--force" in again.stderr
    unreviewed = local(capsys, "run", *SELECT, "--baseline", "pebble.toml")  # refused before any start
    assert unreviewed.returncode == 2 and "still starts with TODO" in unreviewed.stderr
    checked = local(capsys, "baseline-check", "pebble.toml")
    assert checked.returncode == 1 and "still starts with TODO" in checked.stderr

    reviewed = (tmp_path / "pebble.toml").read_text(encoding="utf-8").replace('reason = "TODO: ', 'reason = "')
    (tmp_path / "pebble.toml").write_text(reviewed, encoding="utf-8")
    assert local(capsys, "baseline-check", "pebble.toml").returncode == 0

    # Baselined, with a WARN through the fault layer: the run passes and says what it accepted.
    ok = cli(tmp_path, "run", *SELECT, "--baseline", "pebble.toml", "--report-dir", "run-2", faulty=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "expected (in the baseline): 1\n  nonce.cache-control-no-store FAIL" in ok.stdout
    assert "warnings (not failing the run; --fail-on warn makes them fail): 1\n  nonce.head-returns-200" in ok.stdout
    assert "No new failures and no stale baseline entries." in ok.stdout

    # --fail-on warn: the same WARN now fails the run (quiet mode still says why, on stderr).
    strict = cli(tmp_path, "run", *SELECT, "--baseline", "pebble.toml", "--fail-on", "warn", "-q", faulty=True)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "new failure: nonce.head-returns-200 WARN" in strict.stderr

    # An entry for a check Pebble passes is stale: the run fails and names it.
    stale_text = reviewed + '\n[[expected]]\ncheck = "nonce.get-returns-204"\nverdict = "FAIL"\nreason = "old"\n'
    (tmp_path / "stale.toml").write_text(stale_text, encoding="utf-8")
    stale = cli(tmp_path, "run", *SELECT, "--baseline", "stale.toml")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert ("stale baseline entry for nonce.get-returns-204 (stale.toml entry 2): it expects FAIL, but the check "
            "now gives PASS") in stale.stdout


def test_option_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text('[[expected]]\ncheck = "nonce.get-returns-204"\nverdict = "PASS"\n'
                                       'reason = "r"\n', encoding="utf-8")
    bad = local(capsys, "run", "--select", "nonce.*", "--baseline", "bad.toml")
    assert bad.returncode == 2 and "verdict PASS never fails a run" in bad.stderr
    missing = local(capsys, "baseline", "--from", "no-such-run")
    assert missing.returncode == 2 and "no-such-run" in missing.stderr
    wrong = local(capsys, "run", "--fail-on", "error")
    assert wrong.returncode == 2 and "--fail-on" in wrong.stderr
