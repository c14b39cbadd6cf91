#!/usr/bin/env bash
# Installs what the VS Code tests (test/vscode/) need into .tools/: Node 24 and code-server from npm
# (code-server's install refuses any other Node major), plus Debian chromium and the headers its native
# modules build against. playwright-core is an ordinary devDependency (npm ci). Idempotent: once
# .tools/installed names the pinned versions, a second run only checks. `--check` installs nothing and
# exits 1 when something is missing (scripts/setup.sh uses it).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_SPEC=node@24
CODE_SERVER_SPEC=code-server@4.139.1 # VS Code internals (smoke-test driver payload) are pinned to this
tools="$PWD/.tools"
stamp="$NODE_SPEC $CODE_SERVER_SPEC"

need=()
have() { command -v "$1" >/dev/null 2>&1; }
[ -x /usr/bin/chromium ] || need+=(chromium)
have pkg-config || need+=(pkg-config)
[ -f /usr/include/krb5.h ] || need+=(libkrb5-dev) # kerberos (native module of code-server)
have g++ && have make || need+=(build-essential)
have python3 || need+=(python3) # node-gyp
installed() { [ "$(cat "$tools/installed" 2>/dev/null)" = "$stamp" ]; }
if [ "${1:-}" = --check ]; then [ ${#need[@]} -eq 0 ] && installed; exit; fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup-vscode: please install: ${need[*]} (needs root)" >&2
    exit 1
  fi
  echo "setup-vscode: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if installed; then exit 0; fi
# One install at a time (setup.sh may run twice at once); the second waits, then finds it done.
mkdir -p "$tools"
exec 9>"$tools/.lock"
flock 9
if installed; then exit 0; fi
# From scratch: npm prunes what the `node` package's preinstall put in its own node_modules when it
# reinstalls into an existing folder.
rm -rf "$tools/node24" "$tools/code-server"
mkdir -p "$tools/node24" "$tools/code-server"
npm_i() { npm install --no-audit --no-fund --loglevel=error --prefix "$@"; }

echo "setup-vscode: installing $NODE_SPEC into .tools/node24" >&2
npm_i "$tools/node24" "$NODE_SPEC"
node24="$tools/node24/node_modules/.bin/node"
[[ "$("$node24" --version)" == v24.* ]] || { echo "setup-vscode: $node24 is not Node 24" >&2; exit 1; }
# The npm `node` package ships the matching headers; node-gyp builds code-server's native modules
# against them (not against the system Node 20, whose ABI would not load in Node 24).
nodedir=$(dirname "$(dirname "$(dirname "$(find "$tools/node24/node_modules" -path '*/include/node/node.h' -print -quit)")")")
[ -f "$nodedir/include/node/node.h" ] || { echo "setup-vscode: no Node headers in $nodedir" >&2; exit 1; }

echo "setup-vscode: installing $CODE_SERVER_SPEC into .tools/code-server (builds native modules, a few minutes)" >&2
PATH="$(dirname "$node24"):$PATH" npm_config_nodedir="$nodedir" npm_i "$tools/code-server" "$CODE_SERVER_SPEC"
PATH="$(dirname "$node24"):$PATH" "$tools/code-server/node_modules/.bin/code-server" --version >/dev/null

echo "$stamp" >"$tools/installed"
echo "setup-vscode: done" >&2
