#!/usr/bin/env bash
# Installs workerd, Cloudflare's open-source Workers runtime, from its npm
# package @cloudflare/workerd-linux-64 (which ships the binary) into
# .cache/workerd/, for the test that runs the Cloudflare Worker starter
# (examples/cfworker) on it. Nothing is committed: .cache/ is ignored by
# git. The test drives `workerd serve` with its own config, so neither
# Node.js nor Wrangler is needed at run time. Without npm, or off
# linux/amd64, it says so and succeeds, so `make setup-test` keeps
# working; that test then skips (and fails under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

version=1.20261117.1
dir=.cache/workerd
bin=$dir/node_modules/@cloudflare/workerd-linux-64/bin/workerd
if [ -x "$bin" ] && [ "$(cat "$dir/version" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "setup: workerd is installed for linux/amd64 only; the Cloudflare Worker test will be skipped (and fail under CI=true)" >&2
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  cat >&2 <<MSG
setup: npm is not installed; the test that runs the Cloudflare Worker starter
       on workerd will be skipped (and fail under CI=true).
       Install Node.js with npm (Debian/Ubuntu: sudo apt-get install nodejs npm),
       then run 'make setup-test' again.
MSG
  exit 0
fi
mkdir -p "$dir"
if npm install --prefix "$dir" --no-audit --no-fund "@cloudflare/workerd-linux-64@$version" >&2 && "$bin" --version >/dev/null; then
  echo "$version" >"$dir/version"
  echo "setup: installed workerd $version into $dir"
else
  echo "setup: installing workerd from npm failed; the Cloudflare Worker test will be skipped (and fail under CI=true)" >&2
fi
exit 0
