#!/usr/bin/env bash
# Installs the Node.js GraphQL over WebSocket client `graphql-ws` (npm
# package, major version 6) and the WebSocket implementation it runs on in
# Node, `ws` (major version 8), into .cache/node-graphql/ for the test that
# drives the GraphQL transport's subscriptions with them
# (transports/graphql/nodeclient_test.go). Nothing is committed: .cache/ is
# ignored by git. Without node and npm it says what to install and succeeds,
# so `make setup-test` keeps working; that test then skips (and fails under
# CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.cache/node-graphql
if [ -f "$dir/node_modules/graphql-ws/package.json" ] && [ -f "$dir/node_modules/ws/package.json" ]; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  cat >&2 <<MSG
setup: node and npm are not installed; the test that drives GraphQL subscriptions
       with the Node.js 'graphql-ws' client will be skipped (and fail under CI=true).
       Install Node.js 20 or later with npm (Debian/Ubuntu: sudo apt-get install nodejs npm),
       then run 'make setup-test' again.
MSG
  exit 0
fi
mkdir -p "$dir"
if npm install --prefix "$dir" --no-audit --no-fund graphql-ws@6 ws@8 >&2; then
  echo "setup: installed the npm packages graphql-ws and ws into $dir"
else
  echo "setup: 'npm install graphql-ws@6 ws@8' failed; the GraphQL subscription client test will be skipped (and fail under CI=true)" >&2
fi
exit 0
