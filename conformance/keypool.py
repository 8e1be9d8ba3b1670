"""Account keys generated ahead of need.

RSA-2048 generation takes tens of milliseconds and EC a fraction of one; a background thread
keeps a few of each ready so checks rarely wait. A fresh key per account keeps checks
independent; keys are never reused across accounts.
"""

from __future__ import annotations

import collections
import threading

from conformance.jws import ACCOUNT_ALGORITHMS, AccountKey

_TARGET_STOCK = {"ES256": 16, "ES384": 2, "RS256": 2, "EdDSA": 2}


class KeyPool:
    def __init__(self, stock: dict[str, int] | None = None, background: bool = True) -> None:
        self._stock = dict(stock or _TARGET_STOCK)
        self._keys: dict[str, collections.deque[AccountKey]] = {alg: collections.deque() for alg in ACCOUNT_ALGORITHMS}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._fill, name="keypool", daemon=True)
            self._thread.start()

    def get(self, alg: str = "ES256") -> AccountKey:
        with self._lock:
            queue = self._keys.get(alg)
            key = queue.popleft() if queue else None
        self._wake.set()
        return key if key is not None else AccountKey.generate(alg)

    def _fill(self) -> None:
        while not self._closed:
            made = False
            for alg, wanted in self._stock.items():
                with self._lock:
                    short = len(self._keys[alg]) < wanted
                if short and not self._closed:
                    key = AccountKey.generate(alg)
                    with self._lock:
                        self._keys[alg].append(key)
                    made = True
            if not made:
                self._wake.wait(timeout=1.0)
                self._wake.clear()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
