"""Backend that delegates each add/remove to a user-supplied command.

Useful when the server under test validates against infrastructure we do not run
(a real DNS provider API, a web server on another loopback address, ...).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Sequence

from .base import ALL_CHALLENGE_TYPES, ChallengeBackend, Identifier, normalize_domain

__all__ = ["HookBackend", "HookError"]

# Enough stderr to diagnose a failure without flooding reports.
MAX_STDERR = 2000


class HookError(RuntimeError):
    """The hook command failed (non-zero exit, timeout, or could not be started)."""

    def __init__(self, message: str, returncode: int | None = None, stderr: str = "") -> None:
        super().__init__(message)
        self.returncode = returncode
        self.stderr = stderr


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_STDERR else text[:MAX_STDERR] + "...[truncated]"


class HookBackend(ChallengeBackend):
    """Runs ``command + [action, challenge_type, identifier, token, value]`` for each change.

    ``action`` is "add" or "remove"; ``value`` is the key authorization for http-01 and
    tls-alpn-01 and the TXT value for dns-01. The same data is in ACME_* environment variables.
    Fields that do not apply (e.g. the identifier for http-01) are passed as "".
    """

    supports = ALL_CHALLENGE_TYPES

    def __init__(self, command: Sequence[str], timeout: float = 30) -> None:
        if not command:
            raise ValueError("hook command must not be empty")
        self.command = list(command)
        self.timeout = timeout
        self._running: set[subprocess.Popen[str]] = set()
        self._lock = threading.Lock()

    def stop(self) -> None:
        """End hook calls still running (the run is being torn down, e.g. after Ctrl-C)."""
        with self._lock:
            running = list(self._running)
        for proc in running:
            _kill_group(proc)

    def _run(self, action: str, challenge_type: str, identifier: str, token: str, value: str) -> None:
        argv = [*self.command, action, challenge_type, identifier, token, value]
        env = dict(os.environ)
        env.update(
            ACME_ACTION=action,
            ACME_CHALLENGE_TYPE=challenge_type,
            ACME_IDENTIFIER=identifier,
            ACME_TOKEN=token,
            ACME_VALUE=value,
        )
        try:
            # Its own session, so a Ctrl-C at the terminal reaches us, not the hook, and stop() can
            # end the hook and everything it started as one process group.
            proc = subprocess.Popen(
                argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True, start_new_session=True,
            )
        except OSError as exc:
            raise HookError(f"hook {self.command[0]!r} could not be started: {exc}") from exc
        with self._lock:
            self._running.add(proc)
        try:
            _, stderr_text = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired as exc:
            _kill_group(proc)
            _, stderr_text = proc.communicate()
            raise HookError(
                f"hook {action} {challenge_type} timed out after {self.timeout}s", stderr=_truncate(stderr_text or "")
            ) from exc
        finally:
            with self._lock:
                self._running.discard(proc)
        if proc.returncode != 0:
            stderr = _truncate(stderr_text or "")
            raise HookError(
                f"hook {action} {challenge_type} exited with {proc.returncode}: {stderr.strip()}",
                returncode=proc.returncode,
                stderr=stderr,
            )

    def add_http01(self, token: str, key_authorization: str) -> None:
        self._run("add", "http-01", "", token, key_authorization)

    def remove_http01(self, token: str) -> None:
        self._run("remove", "http-01", "", token, "")

    def add_dns01(self, domain: str, txt_value: str) -> None:
        self._run("add", "dns-01", normalize_domain(domain), "", txt_value)

    def remove_dns01(self, domain: str, txt_value: str | None = None) -> None:
        self._run("remove", "dns-01", normalize_domain(domain), "", txt_value or "")

    def add_tlsalpn01(self, identifier: Identifier, key_authorization: str) -> None:
        self._run("add", "tls-alpn-01", identifier.value, "", key_authorization)

    def remove_tlsalpn01(self, identifier: Identifier) -> None:
        self._run("remove", "tls-alpn-01", identifier.value, "", "")
