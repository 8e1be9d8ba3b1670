"""Benchmarks (issue 8): speed and memory are measured here, never in timed tests.

    python bench/bench.py [--issuances N] [--skip-catalogue] [--fuzz-seconds S] [--skip-fuzz] [--json FILE]

Against the embedded Pebble with validation sleeps off, in one run:
  * wall time of the full catalogue, Pebble start included (`acme-conformance run` as a user runs it);
  * one full issuance (account, order, http-01, finalize, download) by our scenario vs. the minimal
    hand-written httpx client in bench/minimal_client.py doing the same requests, as a ratio;
  * the same issuance by peer clients installed on the machine (certbot, lego, acme-tiny), as ratios;
  * fuzz throughput (exchanges/s) vs. the minimal client's exchange rate, and peak memory of a long
    fuzz run, when the fuzzer is installed (conformance.fuzz).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from minimal_client import MinimalClient  # noqa: E402
from peers import PEERS, time_peer  # noqa: E402

from conformance.context import RunContext, RunOptions  # noqa: E402
from conformance.harness import TargetOptions, open_harness  # noqa: E402
from conformance.model import Verdict  # noqa: E402
from conformance.registry import get_check  # noqa: E402
from conformance.runner import execute_check  # noqa: E402
from conformance.targets.base import httpx_verify  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def time_catalogue() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "conformance", "run", "-q", "--report-dir", f"{tmp}/run"],
                              cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        results = json.loads(Path(f"{tmp}/run/results.json").read_text())
    return {"wall_seconds": round(wall, 2), "checks": len(results["checks"]), "counts": results["counts"],
            "exit_code": proc.returncode}


def time_issuances(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, open_harness(TargetOptions(workdir=Path(tmp))) as harness:
        run = RunContext(harness.target, harness.backend, RunOptions(eab=harness.eab))
        spec = get_check("issuance.http-01")
        plain = httpx.Client(verify=httpx_verify(harness.target.verify), trust_env=False)
        minimal = MinimalClient(plain, harness.target.directory_url, harness.backend.add_http01)
        ours: list[float] = []
        theirs: list[float] = []
        ours_requests: list[int] = []
        for index in range(count + 2):  # two warm-up rounds, interleaved so drift hits both alike
            started = time.perf_counter()
            result = execute_check(run, spec)
            elapsed_ours = time.perf_counter() - started
            if result.verdict is not Verdict.PASS:
                raise SystemExit(f"our issuance did not pass: {result.message}")
            before = minimal.requests
            started = time.perf_counter()
            minimal.issue(f"bench-{index}-{os.getpid()}.acme-conformance.example")
            elapsed_theirs = time.perf_counter() - started
            if index >= 2:
                ours.append(elapsed_ours)
                theirs.append(elapsed_theirs)
                ours_requests.append(len(result.exchanges) + len(result.setup_exchanges))
                minimal_requests = minimal.requests - before
        plain.close()
        run.close()
    peers = time_peers(max(3, count // 4))
    ours_median, theirs_median = statistics.median(ours), statistics.median(theirs)
    return {
        "issuances": count,
        "ours_median_seconds": round(ours_median, 4),
        "minimal_median_seconds": round(theirs_median, 4),
        "ratio_ours_to_minimal": round(ours_median / theirs_median, 2),
        "ours_requests": statistics.median(ours_requests),
        "minimal_requests": minimal_requests,
        "peers": {name: ({**data, "ratio_to_minimal": round(data["median_seconds"] / theirs_median, 2)}
                         if "median_seconds" in data else data) for name, data in peers.items()},
    }


def time_peers(count: int) -> dict[str, dict[str, Any]]:
    return {name: time_peer(name, count) for name in PEERS}


def time_fuzz(seconds: float) -> dict[str, Any]:
    """Fuzz throughput vs. the minimal client on the same request mix, and the fuzzer's peak memory.

    Runs in a separate process (bench/fuzz_probe.py) so the memory figure is the fuzzer's own.
    """
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([sys.executable, str(Path(__file__).with_name("fuzz_probe.py")), "--duration", str(seconds),
                               "--sample", f"{tmp}/sample.json"], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"measured": False, "why": proc.stderr[-800:]}
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    # The fair yardstick: the same signed requests re-signed with fresh nonces, so the server does the same
    # work; the byte-for-byte replay (spent nonces, cheap badNonce answers) is an upper bound, kept for context.
    figures["ratio_to_minimal"] = round(figures["exchanges_per_second"] / figures["minimal_resigned_exchanges_per_second"], 2)
    figures["ratio_to_byte_replay"] = round(figures["exchanges_per_second"] / figures["minimal_exchanges_per_second"], 2)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--issuances", type=int, default=30)
    parser.add_argument("--skip-catalogue", action="store_true")
    parser.add_argument("--fuzz-seconds", type=float, default=100.0,
                        help="length of the fuzz run (long enough for 20,000 exchanges at ~240/s)")
    parser.add_argument("--skip-fuzz", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    if not args.skip_catalogue:
        figures["catalogue"] = time_catalogue()
        print(f"full catalogue: {figures['catalogue']['wall_seconds']} s wall for {figures['catalogue']['checks']} checks")
    figures["issuance"] = time_issuances(args.issuances)
    issuance = figures["issuance"]
    print(f"issuance: ours {issuance['ours_median_seconds'] * 1000:.1f} ms, minimal client "
          f"{issuance['minimal_median_seconds'] * 1000:.1f} ms -> ratio {issuance['ratio_ours_to_minimal']}")
    for name, data in issuance["peers"].items():
        print(f"  {name}: {data.get('ratio_to_minimal', data.get('why'))}")
    if not args.skip_fuzz:
        figures["fuzz"] = fuzz = time_fuzz(args.fuzz_seconds)
        if fuzz.get("measured", True):
            print(f"fuzz: {fuzz['exchanges']} exchanges in {fuzz['seconds']} s = {fuzz['exchanges_per_second']}/s; "
                  f"minimal client re-signing the same requests {fuzz['minimal_resigned_exchanges_per_second']}/s "
                  f"-> ratio {fuzz['ratio_to_minimal']} (byte-for-byte replay {fuzz['minimal_exchanges_per_second']}/s "
                  f"-> {fuzz['ratio_to_byte_replay']}); peak memory {fuzz['peak_rss_mb']} MB")
        else:
            print(f"fuzz: not measured: {fuzz['why']}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
