"""Backend driving pebble-challtestsrv through its HTTP management API.

Lets the suite use Pebble's own mock responders, as a cross-check of the built-in ones.
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
from typing import IO, Any

import httpx

from conformance.netutil import StartStop

from .base import ALL_CHALLENGE_TYPES, ChallengeBackend, Identifier, normalize_domain

__all__ = ["ChallTestSrvBackend", "ChallTestSrvError", "ChallTestSrvProcess"]

DEFAULT_BINARY = "/usr/bin/pebble-challtestsrv"


class ChallTestSrvError(RuntimeError):
    """The management API refused a request or the process did not come up."""


def _txt_host(domain: str) -> str:
    # challtestsrv keys TXT records by fully-qualified name with the trailing dot.
    return f"_acme-challenge.{normalize_domain(domain)}."


class ChallTestSrvBackend(ChallengeBackend):
    """Adds/removes challenges on a running pebble-challtestsrv (start/stop are no-ops)."""

    supports = ALL_CHALLENGE_TYPES

    def __init__(self, management_url: str, timeout: float = 5.0) -> None:
        self.management_url = management_url.rstrip("/")
        self._client = httpx.Client(timeout=timeout, trust_env=False)  # no proxies: loopback only
        # challtestsrv can only clear *all* TXT values of a name, so we remember them to be able
        # to remove a single value (wildcard + base name share one TXT name).
        self._txt: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._client.close()

    def _post(self, endpoint: str, payload: dict[str, Any]) -> None:
        try:
            resp = self._client.post(f"{self.management_url}/{endpoint}", json=payload)
        except httpx.HTTPError as exc:
            raise ChallTestSrvError(f"challtestsrv {endpoint}: {exc}") from exc
        if resp.status_code != 200:
            raise ChallTestSrvError(f"challtestsrv {endpoint}: HTTP {resp.status_code} {resp.text[:200]}")

    def add_http01(self, token: str, key_authorization: str) -> None:
        self._post("add-http01", {"token": token, "content": key_authorization})

    def remove_http01(self, token: str) -> None:
        self._post("del-http01", {"token": token})

    def add_dns01(self, domain: str, txt_value: str) -> None:
        host = _txt_host(domain)
        with self._lock:
            self._txt.setdefault(host, []).append(txt_value)
            self._post("set-txt", {"host": host, "value": txt_value})

    def remove_dns01(self, domain: str, txt_value: str | None = None) -> None:
        host = _txt_host(domain)
        with self._lock:
            values = self._txt.pop(host, [])
            if txt_value is not None and txt_value in values:
                values.remove(txt_value)
            else:
                values = []
            self._post("clear-txt", {"host": host})
            for value in values:
                self._post("set-txt", {"host": host, "value": value})
            if values:
                self._txt[host] = values

    def add_tlsalpn01(self, identifier: Identifier, key_authorization: str) -> None:
        self._post("add-tlsalpn01", {"host": identifier.value, "content": key_authorization})

    def remove_tlsalpn01(self, identifier: Identifier) -> None:
        self._post("del-tlsalpn01", {"host": identifier.value})


class ChallTestSrvProcess(StartStop):
    """Runs pebble-challtestsrv with every listener on 127.0.0.1 (its defaults bind all interfaces)."""

    def __init__(
        self,
        http01_port: int,
        dns01_port: int,
        tlsalpn01_port: int,
        management_port: int,
        host: str = "127.0.0.1",
        binary: str = DEFAULT_BINARY,
        default_ipv4: str = "127.0.0.1",
        startup_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.http01_port = http01_port
        self.dns01_port = dns01_port
        self.tlsalpn01_port = tlsalpn01_port
        self.management_port = management_port
        self.binary = binary
        self.default_ipv4 = default_ipv4
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def management_url(self) -> str:
        return f"http://{self.host}:{self.management_port}"

    def argv(self) -> list[str]:
        return [
            self.binary,
            "-http01", f"{self.host}:{self.http01_port}",
            "-https01", "",  # disabled: nothing in ACME validates over HTTPS on its own port
            "-tlsalpn01", f"{self.host}:{self.tlsalpn01_port}",
            "-dns01", f"{self.host}:{self.dns01_port}",
            "-management", f"{self.host}:{self.management_port}",
            "-defaultIPv4", self.default_ipv4,
            "-defaultIPv6", "",  # no AAAA: ::1 answers would send validators to an unbound port
        ]  # fmt: skip

    def log_text(self) -> str:
        """What the process wrote so far (stdout+stderr), for failure reports."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def start(self) -> None:
        if self._proc is not None:
            return
        # A temp file rather than a pipe: challtestsrv logs every request, and an undrained
        # pipe would eventually block it.
        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(self.argv(), stdout=self._log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        with httpx.Client(timeout=0.5, trust_env=False) as client:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    raise ChallTestSrvError(
                        f"pebble-challtestsrv exited with {self._proc.returncode}: {self.log_text()[-2000:]}"
                    )
                try:
                    client.get(self.management_url + "/")
                    return  # any HTTP answer (even 404) means the management API is serving
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise ChallTestSrvError(f"pebble-challtestsrv not ready after {self.startup_timeout}s")
                time.sleep(0.02)  # polling interval for a port we cannot be notified about

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

