#!/usr/bin/env bash
# Lint, type-check, unit-test, build and page-test the webview UI. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

stamp=node_modules/.lock-stamp
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_sum" ]; then
  echo "== npm ci"
  npm ci --ignore-scripts --no-audit --no-fund
  echo "$lock_sum" > "$stamp"
fi

if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "== installing chromium (apt)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
    $SUDO apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium >/dev/null
  }
fi

echo "== lint";  npm run --silent lint
echo "== check"; npm run --silent check
echo "== test";  npm run --silent test
echo "== build"; npm run --silent build
echo "== e2e";   node e2e/run.mjs --no-build
echo "ui: all checks passed"
