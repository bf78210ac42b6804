#!/usr/bin/env bash
# Installs the Node.js WebSocket client `ws` (npm package, major version 8)
# into .cache/node-ws/ for the test that drives the kit's WebSocket protocol
# with a third-party client (adapters/nodews_test.go). Nothing is committed:
# .cache/ is ignored by git. Without node and npm it says what to install
# and succeeds, so `make setup` keeps working; that test then skips (and
# fails under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.cache/node-ws
if [ -f "$dir/node_modules/ws/package.json" ]; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  cat >&2 <<MSG
setup: node and npm are not installed; the test that drives the WebSocket
       protocol with the Node.js 'ws' client will be skipped (and fail under CI=true).
       Install Node.js 18 or later with npm (Debian/Ubuntu: sudo apt-get install nodejs npm),
       then run 'make setup' again.
MSG
  exit 0
fi
mkdir -p "$dir"
if npm install --prefix "$dir" --no-audit --no-fund ws@8 >&2; then
  echo "setup: installed the npm package ws into $dir"
else
  echo "setup: 'npm install ws@8' failed; the Node.js WebSocket client test will be skipped (and fail under CI=true)" >&2
fi
exit 0
