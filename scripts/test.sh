#!/usr/bin/env bash
# The project's test command: set up, then run the test suite inside a loopback-only network
# namespace, so nothing the tests start can send a packet off loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
set +e
# Two workers (the machine has two cores); tests that share fixed ports share a worker (loadgroup).
unshare -n sh -c 'ip link set lo up && exec python3 -m pytest -n 2 --dist loadgroup "$@"' sh "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "error: pytest collected no tests (exit 5); that is a failure of the suite" >&2
  exit 1
fi
exit "$rc"
