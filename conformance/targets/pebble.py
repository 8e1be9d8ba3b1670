"""Run a private Pebble on loopback for the duration of a test session.

Everything Pebble listens on is bound to 127.0.0.1 and its resolver is forced to a loopback
DNS port, so a run never sends a packet off the machine.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from conformance.netutil import StartStop, free_port
from conformance.targets.base import (
    TargetError,
    TargetInfo,
    TargetNotInstalled,
    httpx_verify,
    process_output_tail,
    terminate_process,
    wait_for_directory,
)
from conformance.tlsgen import make_test_pki

NOT_INSTALLED_MESSAGE = (
    "Pebble is not installed. Install it with: apt-get install -y pebble  (Debian package 'pebble'), "
    "or pass --directory URL to test another server."
)

# Pebble's defaults inject randomness (validation sleeps, 5 % bogus badNonce, 50 % authz reuse)
# that would make conformance results flaky; callers can still opt back in through `env`.
DEFAULT_ENV: dict[str, str] = {
    "PEBBLE_VA_NOSLEEP": "1",
    "PEBBLE_WFE_NONCEREJECT": "0",
    "PEBBLE_AUTHZREUSE": "0",
}

_STOP_GRACE = 5.0
_START_ATTEMPTS = 2  # one retry: a port we picked can be grabbed by someone else before Pebble binds it
_PORT_TAKEN_MARKER = "address already in use"
_MAX_ISSUER_INDEX = 64  # safety bound when enumerating /roots/<n> and /intermediates/<n>
_MGMT_TIMEOUT = 5.0


def _pebble_version(binary: str) -> str:
    """Pebble 2.4.0 has no -version flag; newer builds may, so ask once and cheaply."""
    try:
        result = subprocess.run(
            [binary, "-version"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or not output or "flag provided but not defined" in output:
        return "unknown"
    return output.splitlines()[0]


class EmbeddedPebble(StartStop):
    """Context manager that starts Pebble in ``workdir`` and always stops it again."""

    def __init__(
        self,
        workdir: Path,
        *,
        dns_port: int,
        http_port: int,
        tls_port: int,
        listen_port: int = 0,
        management_port: int = 0,
        env: Mapping[str, str] | None = None,
        config_overrides: Mapping[str, object] | None = None,
        strict: bool = False,
        binary: str = "pebble",
        start_timeout: float = 20.0,
    ) -> None:
        self.workdir = Path(workdir)
        self.dns_port = dns_port
        self.http_port = http_port
        self.tls_port = tls_port
        self.listen_port = listen_port
        self.management_port = management_port
        self.env_overrides = dict(env or {})
        self.config_overrides = dict(config_overrides or {})
        self.strict = strict
        self.binary = binary
        self.start_timeout = start_timeout
        self.log_path = self.workdir / "pebble.log"
        self.config_path = self.workdir / "pebble-config.json"
        self.process: subprocess.Popen[bytes] | None = None
        self.info: TargetInfo | None = None
        self.startup_seconds: float | None = None
        self._log_file: IO[bytes] | None = None
        self._mgmt_client: httpx.Client | None = None
        self._atexit_registered = False

    # -- lifecycle -------------------------------------------------------------------------


    def start(self) -> TargetInfo:
        if self.process is not None and self.process.poll() is None:
            raise TargetError("This EmbeddedPebble is already running.")
        binary_path = shutil.which(self.binary)
        if binary_path is None:
            raise TargetNotInstalled(NOT_INSTALLED_MESSAGE)
        self.workdir.mkdir(parents=True, exist_ok=True)
        pki = make_test_pki(self.workdir / "tls")
        env = {**os.environ, **DEFAULT_ENV, **self.env_overrides}

        started = time.monotonic()
        for attempt in range(_START_ATTEMPTS):
            listen_port, management_port = self._pick_ports()
            self._write_config(pki.cert, pki.key, listen_port, management_port)
            directory_url = f"https://127.0.0.1:{listen_port}/dir"
            management_url = f"https://127.0.0.1:{management_port}"
            self._launch(binary_path, env)
            try:
                wait_for_directory(
                    directory_url, str(pki.ca_cert), self.start_timeout, self.process, self.log_path
                )
                # The management listener comes up in its own goroutine; the roots are what the
                # tests need from it first, so wait for those too.
                wait_for_directory(
                    f"{management_url}/roots/0", str(pki.ca_cert), self.start_timeout,
                    self.process, self.log_path,
                )
            except TargetError:
                port_taken = self._exited() and _PORT_TAKEN_MARKER in self._log_text()
                self.stop()
                if port_taken and attempt + 1 < _START_ATTEMPTS:
                    continue
                raise
            except BaseException:
                # KeyboardInterrupt while waiting: the child is in its own session and never
                # saw the Ctrl-C, so it is ours to stop.
                self.stop()
                raise
            break

        self.startup_seconds = time.monotonic() - started
        self.info = TargetInfo(
            name="pebble",
            directory_url=directory_url,
            verify=str(pki.ca_cert),
            management_url=management_url,
            version=_pebble_version(binary_path),
            notes={
                "binary": binary_path,
                "workdir": str(self.workdir),
                "log": str(self.log_path),
                "dns_server": f"127.0.0.1:{self.dns_port}",
                "strict": str(self.strict).lower(),
                "startup_seconds": f"{self.startup_seconds:.3f}",
            },
        )
        return self.info

    def stop(self) -> None:
        """Terminate Pebble (kill after a grace period); safe to call repeatedly."""
        try:
            terminate_process(self.process, _STOP_GRACE)
        finally:
            if self._mgmt_client is not None:
                self._mgmt_client.close()
                self._mgmt_client = None
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
            if self._atexit_registered:
                atexit.unregister(self.stop)
                self._atexit_registered = False

    # -- management interface --------------------------------------------------------------

    def root_certificates(self) -> list[str]:
        """PEM of every issuing root (more than one when PEBBLE_ALTERNATE_ROOTS is set)."""
        return self._enumerate("roots")

    def intermediate_certificates(self) -> list[str]:
        """PEM of the intermediate(s) for each root, in root order."""
        return self._enumerate("intermediates")

    def cert_status(self, serial_hex: str) -> dict[str, Any]:
        """Pebble's view of a certificate it issued: {"Status": "Valid"|"Revoked", ...}."""
        response = self._management_get(f"/cert-status-by-serial/{serial_hex.lower()}")
        if response.status_code != 200:
            raise TargetError(
                f"Pebble has no certificate with serial {serial_hex} (HTTP {response.status_code})."
            )
        result: dict[str, Any] = response.json()
        return result

    # -- internals -------------------------------------------------------------------------

    def _pick_ports(self) -> tuple[int, int]:
        listen_port = self.listen_port or free_port()
        management_port = self.management_port or free_port()
        while management_port == listen_port and not self.management_port:
            management_port = free_port()
        return listen_port, management_port

    def _write_config(self, cert: Path, key: Path, listen_port: int, management_port: int) -> None:
        config: dict[str, object] = {
            "listenAddress": f"127.0.0.1:{listen_port}",
            "managementListenAddress": f"127.0.0.1:{management_port}",
            "certificate": str(cert),
            "privateKey": str(key),
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }
        config.update(self.config_overrides)
        self.config_path.write_text(json.dumps({"pebble": config}, indent=2) + "\n")

    def _launch(self, binary_path: str, env: Mapping[str, str]) -> None:
        command = [binary_path, "-config", str(self.config_path), "-dnsserver", f"127.0.0.1:{self.dns_port}"]
        if self.strict:
            command.append("-strict")
        # "wb" on every attempt so a retry's log isn't mixed up with the failed attempt's.
        self._log_file = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=self.workdir,
            start_new_session=True,  # keep terminal Ctrl-C away from Pebble; stop() handles it
        )
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True

    def _exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def _log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _management_get(self, path: str) -> httpx.Response:
        if self.info is None or self.info.management_url is None or not self._running():
            raise TargetError("Pebble is not running; start it before using its management interface.")
        if self._mgmt_client is None:
            self._mgmt_client = httpx.Client(
                base_url=self.info.management_url, verify=httpx_verify(self.info.verify), timeout=_MGMT_TIMEOUT
            )
        return self._mgmt_client.get(path)

    def _running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _enumerate(self, kind: str) -> list[str]:
        pems: list[str] = []
        for index in range(_MAX_ISSUER_INDEX):
            response = self._management_get(f"/{kind}/{index}")
            if response.status_code == 404:
                break
            if response.status_code != 200:
                raise TargetError(f"Pebble management GET /{kind}/{index} answered HTTP {response.status_code}.")
            pems.append(response.text)
        if not pems:
            raise TargetError(f"Pebble's management interface returned no {kind}.")
        return pems

    def last_output(self) -> str:
        """Tail of Pebble's log, for error messages and debugging."""
        return process_output_tail(self.process, self.log_path)
