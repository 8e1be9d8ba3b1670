"""The command line as a user meets it: exit codes, results.json, --directory, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import needs_pebble

from conformance.cli import main
from conformance.netutil import free_port
from conformance.targets.pebble import EmbeddedPebble


def _results(run_dir: Path) -> dict:
    return json.loads((run_dir / "results.json").read_text())


def _verdicts(run_dir: Path) -> dict[str, str]:
    return {c["id"]: c["verdict"] for c in _results(run_dir)["checks"]}


@needs_pebble
def test_run_embedded_writes_results(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    code = main(["run", "--select", "nonce.get-returns-204", "--select", "nonce.cache-control-no-store",
                 "--select", "directory.*", "--report-dir", str(run_dir), "-q"])
    results = _results(run_dir)
    assert code == 1  # nonce.cache-control-no-store FAILs on Pebble 2.4.0
    assert results["tool"]["name"] == "acme-conformance" and results["tool"]["version"]
    assert results["target"]["name"] == "pebble" and "newNonce" in results["target"]["directory"]
    assert results["started"] and results["ended"] and results["interrupted"] is False
    by_id = {c["id"]: c for c in results["checks"]}
    failing = by_id["nonce.cache-control-no-store"]
    assert failing["verdict"] == "FAIL" and failing["section"] == "RFC 8555 §7.2" and failing["level"] == "MUST"
    assert "no-store" in failing["sentence"] and "no-cache" in failing["actual"]
    exchange = failing["exchanges"][0]
    assert exchange["request"]["method"] == "HEAD" and exchange["response"]["status"] == 200
    assert results["counts"]["FAIL"] == 1 and results["counts"]["ERROR"] == 0
    assert (run_dir / "events.ndjson").is_file()


@needs_pebble
def test_exit_zero_without_failures(tmp_path: Path) -> None:
    assert main(["run", "--select", "directory.get-*", "--select", "directory.has-*", "--report-dir", str(tmp_path / "r"), "-q"]) == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--tag", "nope"], "unknown tag"),
        (["run", "--level", "SOMETIMES"], "unknown level"),
        (["run", "--select", "no.such.check"], "no check matches"),
        (["run", "--workers", "0"], "--workers"),
        (["run", "--ca-bundle", "x.pem"], "--directory"),
        (["run", "--directory", "ftp://x/dir"], "http:// or https://"),
        (["run", "--http-port", "70000"], "port number"),
        (["run", "--pebble-env", "NOEQUALS"], "KEY=VALUE"),
        (["run", "--eab-kid", "k"], "go together"),
    ],
)
def test_usage_errors_exit_2(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main([*argv, "--report-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["run", "--no-such-option"])
    assert info.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err


def test_unreachable_target_exits_3(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    run_dir = tmp_path / "r"
    code = main(["run", "--directory", f"https://127.0.0.1:{port}/dir", "--insecure", "--select", "directory.*",
                 "--http-port", str(free_port()), "--dns-port", str(free_port(udp_too=True)),
                 "--tls-port", str(free_port()), "--report-dir", str(run_dir), "-q"])
    results = _results(run_dir)
    assert code == 3 and "did not answer" in results["harness_error"] and results["checks"] == []


@needs_pebble
def test_external_directory_gives_same_verdicts(tmp_path: Path) -> None:
    """A Pebble we start ourselves, tested with --directory, judges like the embedded one."""
    selection = ["--select", "directory.*", "--select", "nonce.get-*", "--select", "nonce.head-*",
                 "--select", "nonce.cache-*", "--select", "issuance.*"]
    assert main(["run", *selection, "--report-dir", str(tmp_path / "embedded"), "-q"]) == 1
    ports = {"http": free_port(), "dns": free_port(udp_too=True), "tls": free_port()}
    pebble = EmbeddedPebble(tmp_path / "own-pebble", dns_port=ports["dns"], http_port=ports["http"], tls_port=ports["tls"])
    with pebble:
        assert pebble.info is not None
        code = main(["run", *selection, "--directory", pebble.info.directory_url, "--ca-bundle", str(pebble.info.verify),
                     "--http-port", str(ports["http"]), "--dns-port", str(ports["dns"]), "--tls-port", str(ports["tls"]),
                     "--report-dir", str(tmp_path / "external"), "-q"])
    assert code == 1
    assert _verdicts(tmp_path / "external") == _verdicts(tmp_path / "embedded")


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@needs_pebble
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_everything_and_keeps_results(tmp_path: Path, sig: signal.Signals) -> None:
    run_dir = tmp_path / "run"
    # A challenge hook that never returns keeps the issuance check busy: the interrupt lands mid-check,
    # with three children to clean up (Pebble, the hook, and the check's thread blocked on the hook).
    proc = subprocess.Popen(
        [sys.executable, "-m", "conformance", "run", "--report-dir", str(run_dir), "--select", "issuance.http-01",
         "--select", "directory.get-*", "--workers", "1", "--backend", "hook", "--hook", "sh -c 'sleep 120' hook",
         "--http-port", str(free_port())],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    events = run_dir / "events.ndjson"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # wait until the hook is running, i.e. the check is under way
        text = events.read_text() if events.exists() else ""
        children = _children(proc.pid)
        # (Pebble's version probe is a short-lived second child at start-up: the event says we are past it.)
        if '"id":"issuance.http-01"' in text and len(children) >= 2:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("the run never got to the challenge hook")
    started = [json.loads(line) for line in events.read_text().splitlines()][0]
    pebble_port = int(started["target"]["directory_url"].split(":")[2].split("/")[0])
    dns_port = int(started["target"]["notes"]["dns_server"].rsplit(":", 1)[1])

    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err + out
    for child in children:
        assert not _alive(child), f"process {child} survived the interrupt"
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", pebble_port))
        udp.bind(("127.0.0.1", dns_port))
    results = _results(run_dir)
    assert results["interrupted"] is True
    assert any(c["id"].startswith("directory.") for c in results["checks"]) or results["unfinished"]
    assert any(u.startswith("issuance.") for u in results["unfinished"])


def test_eab_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HMAC key can stay off the command line (where every user sees it in the process list)."""
    from conformance.commands.common import OptionError, _eab

    monkeypatch.setenv("ACME_EAB_HMAC_KEY", "-leading-dash_key123")
    kid, key = _eab("kid-1", None)  # type: ignore[misc]
    assert kid == "kid-1" and key
    monkeypatch.delenv("ACME_EAB_HMAC_KEY")
    with pytest.raises(OptionError, match="ACME_EAB_HMAC_KEY"):
        _eab("kid-1", None)

