#!/usr/bin/env bash
# The main job: set up, then run the whole conformance suite against an embedded Pebble.
# Extra arguments go to `acme-conformance run` (e.g. --select 'nonce.*').
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec acme-conformance run "$@"
