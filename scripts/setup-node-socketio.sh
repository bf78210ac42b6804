#!/usr/bin/env bash
# Installs the official Node.js Socket.IO client (npm package
# socket.io-client, major version 4: Engine.IO v4, Socket.IO protocol v5)
# into .cache/node-socketio/ for the test that drives the Socket.IO
# transport with it (transports/computesocketio/nodeclient_test.go). Nothing is
# committed: .cache/ is ignored by git. Without node and npm it says what
# to install and succeeds, so `make setup-test` keeps working; that test
# then skips (and fails under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.cache/node-socketio
if [ -f "$dir/node_modules/socket.io-client/package.json" ]; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  cat >&2 <<MSG
setup: node and npm are not installed; the test that drives the Socket.IO
       transport with the Node.js 'socket.io-client' will be skipped (and fail under CI=true).
       Install Node.js 18 or later with npm (Debian/Ubuntu: sudo apt-get install nodejs npm),
       then run 'make setup-test' again.
MSG
  exit 0
fi
mkdir -p "$dir"
if npm install --prefix "$dir" --no-audit --no-fund socket.io-client@4 >&2; then
  echo "setup: installed the npm package socket.io-client into $dir"
else
  echo "setup: 'npm install socket.io-client@4' failed; the Socket.IO client test will be skipped (and fail under CI=true)" >&2
fi
exit 0
