#!/usr/bin/env bash
# Installs what Airlock's demo, tests and benchmarks need on a fresh Debian machine with Node 20, then
# installs the npm dependencies and builds. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have() { command -v "$1" >/dev/null 2>&1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
have psql || need+=(postgresql-client)
have openssl || need+=(openssl)
have runuser || need+=(util-linux)
if [ "${AIRLOCK_SETUP_BENCH:-0}" = 1 ]; then
  have pgbouncer || need+=(pgbouncer)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: please install: ${need[*]} (needs root)" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian's postgresql package starts a cluster of its own; Airlock's tests and demo start their own.
  if [[ " ${need[*]} " == *" postgresql "* ]]; then service postgresql stop >/dev/null 2>&1 || true; fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build --silent

# The VS Code extension tests (test/vscode/): Node 24, code-server and chromium (a few minutes, once).
bash scripts/setup-vscode.sh --check || bash scripts/setup-vscode.sh
