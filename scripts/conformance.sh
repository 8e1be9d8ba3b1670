#!/usr/bin/env bash
# The main job: set up, then run the whole conformance suite against an embedded Pebble.
# Extra arguments go to `acme-conformance run` (e.g. --select 'nonce.*' or --baseline baselines/pebble).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null 2>&1; then
  # As root: inside a loopback-only network namespace, so nothing can leave the machine even by mistake.
  exec unshare -n sh -c 'ip link set lo up && exec acme-conformance run "$@"' sh "$@"
fi
exec acme-conformance run "$@"
