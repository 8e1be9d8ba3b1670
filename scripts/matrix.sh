#!/usr/bin/env bash
# Regenerate the compatibility matrix (docs/compat/matrix.md and matrix.html) from real runs of
# both embedded servers, Pebble and acme2certifier:
#
#   bash scripts/matrix.sh                 # set up, run both servers, write docs/compat/
#   bash scripts/matrix.sh --select 'nonce.*'   # extra arguments go to both `acme-conformance run`s
#
# Environment: MATRIX_OUTPUT (default docs/compat), MATRIX_RUNS (where the two run folders go;
# default $MATRIX_OUTPUT/runs, pruned to each run's report.html so the committed matrix's links work),
# SKIP_SETUP=1 (do not run scripts/setup.sh first).
#
# Both runs happen inside a loopback-only network namespace (unshare -n, needs root): nothing
# leaves loopback, and acme2certifier's fixed validation ports 80/443/53 are free in there.
# A run exits 1 when it has FAIL verdicts and 3 when some checks could not be tested — both are
# results the matrix shows; any other non-zero exit (usage 2, interrupted 130) stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."

output=${MATRIX_OUTPUT:-docs/compat}
runs=${MATRIX_RUNS:-$output/runs}
if [ -z "${MATRIX_RUNS:-}" ]; then
  rm -rf "$runs/pebble" "$runs/acme2certifier"  # the committed matrix's own runs: regenerated here
fi
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
    # 1 (FAIL verdicts) and 3 (checks that could not be tested) are what the matrix records.
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ] && [ "$rc" -ne 3 ]; then
      echo "error: the $target run exited with $rc (see $runs/$target)" >&2
      exit "$rc"
    fi
  done
' sh "$runs" "$@"

python3 -m conformance matrix "$runs/pebble" "$runs/acme2certifier" --output "$output"
if [ -z "${MATRIX_RUNS:-}" ]; then
  # Keep only what the matrix links to (each run is ~25 MB with its event stream, JSON and HAR).
  find "$runs" -type f ! -name report.html -delete
fi
echo "matrix written to $output/ (from $runs/pebble and $runs/acme2certifier)"
