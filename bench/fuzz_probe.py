"""One fuzz exploration in its own process, for the benchmark: exchanges per second and peak memory.

    python bench/fuzz_probe.py --duration 120 --sample FILE

Runs the fuzzer against an embedded Pebble in this process (so ``ru_maxrss`` is the fuzzer's own
peak resident memory, Pebble excluded), counts every exchange at the transport, writes a sample of
the request mix (method, URL, headers, body) to FILE for the minimal client to replay, and prints
the figures as JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conformance.context import RunContext  # noqa: E402
from conformance.fuzz.explore import Explorer  # noqa: E402
from conformance.harness import TargetOptions, open_harness  # noqa: E402

SAMPLE_SIZE = 3000


class SigningLog:
    """Remembers what the fuzzer signed (key, url, payload, kid, fault) for the first SAMPLE_SIZE signed
    requests, in memory only: the minimal client re-signs them with fresh nonces, so the server does the
    same work for both. Keys never leave this process."""

    def __init__(self) -> None:
        self.items: list[tuple] = []  # type: ignore[type-arg]
        self._lock = threading.Lock()

    def wrap(self, sign):  # type: ignore[no-untyped-def]
        def logged(key, url, nonce, payload, *, kid=None, fault=None):  # type: ignore[no-untyped-def]
            with self._lock:
                if len(self.items) < SAMPLE_SIZE:
                    self.items.append((key, url, payload, kid, fault))
            return sign(key, url, nonce, payload, kid=kid, fault=fault)

        return logged


class CountingTransport(httpx.BaseTransport):
    """Counts requests and keeps the first SAMPLE_SIZE of them (bounded: memory stays flat)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.count = 0
        self.sample: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        with self._lock:
            self.count += 1
            if len(self.sample) < SAMPLE_SIZE:
                self.sample.append({
                    "method": request.method, "url": str(request.url),
                    "content_type": request.headers.get("Content-Type", ""),
                    "body": base64.b64encode(body).decode("ascii"),
                })
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def replay_resigned(signed: list[tuple], directory_url: str, verify: str | bool) -> float:  # type: ignore[type-arg]
    """The minimal client doing the fuzzer's signed requests again: bare httpx, each re-signed with the
    nonce of the previous answer (a HEAD newNonce when there is none), no recording, no judging."""
    from conformance.jws import sign_request
    from conformance.targets.base import httpx_verify

    with httpx.Client(verify=httpx_verify(verify), trust_env=False) as client:
        new_nonce = client.get(directory_url).json()["newNonce"]
        nonce: str | None = None
        started = time.perf_counter()
        sent = 0
        for key, url, payload, kid, fault in signed:
            if nonce is None:
                nonce = client.head(new_nonce).headers.get("Replay-Nonce")
                sent += 1
            request = sign_request(key, url, nonce, payload, kid=kid, fault=fault)
            headers = {"Content-Type": request.content_type} if request.content_type else {}
            response = client.post(url, content=request.body, headers=headers)
            sent += 1
            nonce = response.headers.get("Replay-Nonce")
        return sent / (time.perf_counter() - started)


def replay_minimal(sample: list[dict[str, str]], verify: str | bool) -> float:
    """The minimal client's rate on the same request mix: the sampled requests (method, URL, body) sent
    again with bare httpx against the same server. Their nonces are spent, so POSTs come back badNonce
    at once: the server does less work than for the fuzzer, which makes this rate an upper bound and
    our ratio a conservative one."""
    from conformance.targets.base import httpx_verify

    with httpx.Client(verify=httpx_verify(verify), trust_env=False) as client:
        started = time.perf_counter()
        for item in sample:
            headers = {"Content-Type": item["content_type"]} if item["content_type"] else {}
            client.request(item["method"], item["url"], content=base64.b64decode(item["body"]), headers=headers)
        return len(sample) / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sample", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, open_harness(TargetOptions(workdir=Path(tmp))) as harness:
        run = RunContext(harness.target, harness.backend, harness.run_options())
        counter = CountingTransport(run.transport._inner)  # noqa: SLF001 - the benchmark's own probe
        run.transport._inner = counter  # noqa: SLF001
        import conformance.acme
        import conformance.fuzz.mutations

        signing = SigningLog()
        conformance.acme.sign_request = signing.wrap(conformance.acme.sign_request)
        conformance.fuzz.mutations.sign_request = signing.wrap(conformance.fuzz.mutations.sign_request)
        # The known Pebble deadlock (docs/fuzzing.md) is avoided as in the 5-minute acceptance run.
        explorer = Explorer(run, database_dir=Path(tmp) / "db", seed=args.seed, max_examples=None,
                            duration=args.duration, settled_challenges=False, shrink_seconds=5.0)
        started = time.perf_counter()
        explorer.explore()
        seconds = time.perf_counter() - started
        run.close()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the replay adds anything
        minimal_rate = replay_minimal(counter.sample, harness.target.verify)
        resigned_rate = replay_resigned(signing.items, harness.target.directory_url, harness.target.verify)
        harness_url = harness.target.directory_url
    args.sample.write_text(json.dumps(counter.sample))
    print(json.dumps({
        "seconds": round(seconds, 2), "exchanges": counter.count, "examples": explorer.examples,
        "exchanges_per_second": round(counter.count / seconds, 1),
        "minimal_exchanges_per_second": round(minimal_rate, 1),
        "minimal_resigned_exchanges_per_second": round(resigned_rate, 1),
        "peak_rss_mb": round(peak_mb, 1),
        "findings": sorted(explorer.findings), "target": harness_url,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
