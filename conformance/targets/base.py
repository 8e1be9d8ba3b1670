"""What every target (embedded Pebble, an external server, ...) hands to the test run."""

from __future__ import annotations

import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Polling starts fast because Pebble is usually up within a second; backing off keeps a slow
# server from being hammered while still reacting within a fifth of a second.
_FIRST_INTERVAL = 0.02
_MAX_INTERVAL = 0.2
_REQUEST_TIMEOUT = 2.0
_OUTPUT_TAIL_LINES = 20


@dataclass
class TargetInfo:
    name: str  # "pebble", "external", ...
    directory_url: str
    verify: str | bool  # path of a CA bundle for httpx, False for --insecure, True for system trust
    management_url: str | None = None  # Pebble's management interface, if any
    version: str | None = None
    notes: dict[str, str] = field(default_factory=dict)


class TargetError(Exception):
    """A target problem whose message is shown to the user as is (no traceback)."""


class TargetNotInstalled(TargetError):
    """The server software needed for an embedded target is missing."""


class TargetUnreachable(TargetError):
    """The directory URL did not answer in time."""


def httpx_verify(verify: str | bool) -> ssl.SSLContext | bool:
    """Turn TargetInfo.verify into what httpx wants: httpx 0.28 deprecates passing a CA path."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return verify


def process_output_tail(process: subprocess.Popen | None, log_path: Path | None = None) -> str:
    """Last lines a dead child wrote, from its log file (preferred) or its captured stdout."""
    text = ""
    if log_path is not None and log_path.exists():
        text = log_path.read_text(errors="replace")
    elif process is not None and process.stdout is not None:
        try:
            raw = process.stdout.read()
        except (OSError, ValueError):
            raw = b""
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
    lines = text.strip().splitlines()[-_OUTPUT_TAIL_LINES:]
    return "\n".join(lines) if lines else "(no output)"


def wait_for_directory(
    url: str,
    verify: str | bool,
    timeout: float,
    process: subprocess.Popen | None = None,
    log_path: Path | None = None,
) -> None:
    """Poll GET ``url`` until it answers 200, the deadline passes, or ``process`` dies.

    ``log_path`` lets the caller point at the file the process writes to, because a child
    whose output goes to a file has no pipe we could read the tail from.
    """
    deadline = time.monotonic() + timeout
    interval = _FIRST_INTERVAL
    last_problem = "no answer yet"
    with httpx.Client(verify=httpx_verify(verify), timeout=_REQUEST_TIMEOUT) as client:
        while True:
            if process is not None and process.poll() is not None:
                raise TargetError(
                    f"The server process exited with code {process.returncode} before {url} answered. "
                    f"Last output:\n{process_output_tail(process, log_path)}"
                )
            try:
                response = client.get(url)
            except httpx.HTTPError as exc:
                last_problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if response.status_code == 200:
                    return
                last_problem = f"HTTP {response.status_code}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TargetUnreachable(
                    f"The ACME directory at {url} did not answer within {timeout:g} s "
                    f"(last problem: {last_problem})."
                )
            time.sleep(min(interval, remaining))
            interval = min(interval * 2, _MAX_INTERVAL)


def terminate_process(process: subprocess.Popen | None, grace: float) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; safe on a dead or missing process.

    Interrupted mid-stop (e.g. a second Ctrl-C), it still kills the child before re-raising, so
    no server is left orphaned.
    """
    try:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    except BaseException:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        raise
