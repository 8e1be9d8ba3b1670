#!/usr/bin/env bash
# Install what acme-conformance needs on a fresh Debian machine (run as root): Pebble from
# Debian, Chromium for the HTML report tests, and this package with its dev extras and the
# acme2certifier extra (the second embedded server, --target acme2certifier).
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
command -v pebble >/dev/null 2>&1 || need_apt+=(pebble)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v ip >/dev/null 2>&1 || need_apt+=(iproute2)
command -v pgrep >/dev/null 2>&1 || need_apt+=(procps)  # the interrupt tests look for stray children
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[dev,acme2certifier]'
