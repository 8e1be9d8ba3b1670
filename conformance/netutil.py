"""Small networking helpers shared by responders and targets."""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Self

__all__ = ["StartStop", "free_port"]


class StartStop:
    """``with`` support for anything with idempotent start() and stop() (servers, responders)."""

    def start(self) -> object:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_port(host: str = "127.0.0.1", udp_too: bool = False, attempts: int = 50) -> int:
    """Return a port that is currently free on ``host`` for TCP (and UDP if ``udp_too``).

    The kernel picks a TCP port; when UDP is also wanted we try to bind UDP to the same
    number and retry with another TCP port if that number is taken for UDP. There is an
    unavoidable race between returning the number and the caller binding it, so callers
    should bind promptly.
    """
    for _ in range(attempts):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind((host, 0))
            port: int = tcp.getsockname()[1]
            if not udp_too:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind((host, port))
                except OSError:
                    continue
                return port
    raise OSError(f"no free port found on {host} after {attempts} attempts")
