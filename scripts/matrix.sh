#!/usr/bin/env bash
# Regenerate the compatibility matrix (docs/compat/matrix.md and matrix.html) from real runs of
# both embedded servers, Pebble and acme2certifier:
#
#   bash scripts/matrix.sh                 # set up, run both servers, write docs/compat/
#   bash scripts/matrix.sh --select 'nonce.*'   # extra arguments go to both `acme-conformance run`s
#
# Environment: MATRIX_OUTPUT (default docs/compat), MATRIX_RUNS (where the two run folders go;
# default reports/matrix-<UTC time>/), SKIP_SETUP=1 (do not run scripts/setup.sh first).
#
# Both runs happen inside a loopback-only network namespace (unshare -n, needs root): nothing
# leaves loopback, and acme2certifier's fixed validation ports 80/443/53 are free in there.
# A run exits 1 when it has FAIL verdicts — both servers have real deviations, so that is
# expected here; any other non-zero exit (usage 2, harness 3, interrupted 130) stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."

output=${MATRIX_OUTPUT:-docs/compat}
# The run folders are kept (reports/ is not committed, ~25 MB each): the matrix links to their reports.
runs=${MATRIX_RUNS:-reports/matrix-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$runs"
for target in pebble acme2certifier; do
  if [ -e "$runs/$target" ]; then
    echo "error: $runs/$target exists; choose an empty MATRIX_RUNS folder" >&2
    exit 2
  fi
done

if [ "${SKIP_SETUP:-0}" != 1 ]; then
  bash scripts/setup.sh
fi

# shellcheck disable=SC2016  # $1.. are expanded by the inner sh, not here
unshare -n sh -c '
  ip link set lo up || exit 3
  runs=$1; shift
  for target in pebble acme2certifier; do
    python3 -m conformance run -q --target "$target" --report-dir "$runs/$target" "$@"
    rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
      echo "error: the $target run exited with $rc (see $runs/$target)" >&2
      exit "$rc"
    fi
  done
' sh "$runs" "$@"

python3 -m conformance matrix "$runs/pebble" "$runs/acme2certifier" --output "$output"
echo "matrix written to $output/ (from $runs/pebble and $runs/acme2certifier)"
