#!/usr/bin/env bash
# Installs what the playground example and its browser test use, never
# committed: the npm packages @xterm/xterm and @xterm/addon-fit (the
# playground's terminal) into .cache/node-playground/, and Chromium (the
# browser tests/browser drives headless) with apt-get when it is missing and
# this is a Debian or Ubuntu machine run as root. Without npm, or without
# a way to install Chromium, it says what to install and succeeds, so that
# `make setup` keeps working; the page then says the terminal is missing,
# and the browser test skips (and fails under CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.cache/node-playground
if [ ! -f "$dir/node_modules/@xterm/xterm/package.json" ] || [ ! -f "$dir/node_modules/@xterm/addon-fit/package.json" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    cat >&2 <<MSG
setup: npm is not installed; the playground's terminal (xterm.js) will be missing.
       Install Node.js with npm (Debian/Ubuntu: sudo apt-get install nodejs npm),
       then run 'make setup-playground' again.
MSG
  else
    mkdir -p "$dir"
    if npm install --prefix "$dir" --no-audit --no-fund --no-save @xterm/xterm@6 @xterm/addon-fit@0.11 >&2; then
      echo "setup: installed @xterm/xterm and @xterm/addon-fit into $dir"
    else
      echo "setup: installing xterm.js with npm failed; the playground's terminal will be missing" >&2
    fi
  fi
fi

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing chromium with apt-get (for the playground's browser test)" >&2
  if ! { apt-get install -y --no-install-recommends chromium >&2 || { apt-get update >&2 && apt-get install -y --no-install-recommends chromium >&2; }; }; then
    echo "setup: 'apt-get install chromium' failed; the playground's browser test will be skipped (and fail under CI=true)" >&2
  fi
else
  cat >&2 <<MSG
setup: chromium is not installed; the playground's browser test will be skipped
       (and fail under CI=true). Install it (Debian/Ubuntu: sudo apt-get install chromium).
MSG
fi
exit 0
