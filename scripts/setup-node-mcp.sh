#!/usr/bin/env bash
# Installs the official TypeScript MCP client, the npm package
# @modelcontextprotocol/sdk (major version 1), into .cache/node-mcp/ for the
# test that drives the kit's MCP endpoint with it (adapters/mcp_test.go).
# Nothing is committed: .cache/ is ignored by git. Without node and npm it
# says what to install and succeeds, so `make setup-test` keeps working;
# that test then skips (and fails under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.cache/node-mcp
if [ -f "$dir/node_modules/@modelcontextprotocol/sdk/package.json" ]; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  cat >&2 <<MSG
setup: node and npm are not installed; the test that drives the MCP endpoint
       with the TypeScript MCP client will be skipped (and fail under CI=true).
       Install Node.js 18 or later with npm (Debian/Ubuntu: sudo apt-get install nodejs npm),
       then run 'make setup-test' again.
MSG
  exit 0
fi
mkdir -p "$dir"
if npm install --prefix "$dir" --no-audit --no-fund @modelcontextprotocol/sdk@1 >&2; then
  echo "setup: installed the npm package @modelcontextprotocol/sdk into $dir"
else
  echo "setup: 'npm install @modelcontextprotocol/sdk@1' failed; the MCP TypeScript client test will be skipped (and fail under CI=true)" >&2
fi
exit 0
