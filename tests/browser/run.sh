#!/usr/bin/env bash
# Headless-browser tests of the API Playground page.
#
#   tests/browser/run.sh                                   # page + signature vectors
#   PAYFAC_BIN=target/debug/payfac tests/browser/run.sh    # + end-to-end against payfac serve
#
# Installs Debian's chromium if it is missing (needs root, as on CI) and
# playwright-core from npm (pinned in package-lock.json; no browser download).
set -euo pipefail
CALLER_DIR="$PWD"
cd "$(dirname "$0")"

CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM_PATH" ]; then
  echo "tests/browser: installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "tests/browser: installing nodejs and npm" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nodejs npm >/dev/null
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi

if [ -n "${PAYFAC_BIN:-}" ]; then
  # A relative path is relative to the caller's directory.
  case "$PAYFAC_BIN" in /*) ;; *) PAYFAC_BIN="$CALLER_DIR/$PAYFAC_BIN" ;; esac
  export PAYFAC_BIN
fi

exec node --test modules.test.mjs page.test.mjs playground.e2e.test.mjs security.e2e.test.mjs
