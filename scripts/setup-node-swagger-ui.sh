#!/usr/bin/env bash
# Installs swagger-ui-dist (npm, major version 5) into .cache/node-swagger-ui/
# for the playground's API page (/docs), which serves its two files from
# there. Nothing is committed: .cache/ is ignored by git. Without npm it says
# what to install and succeeds; the page then says how to get it.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=.cache/node-swagger-ui
if [ -f "$dir/node_modules/swagger-ui-dist/swagger-ui-bundle.js" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  cat >&2 <<MSG
setup: npm is not installed; the playground's API page (Swagger UI) will be missing.
       Install Node.js with npm (Debian/Ubuntu: sudo apt-get install nodejs npm),
       then run 'make setup-playground' again.
MSG
  exit 0
fi
mkdir -p "$dir"
if npm install --prefix "$dir" --no-audit --no-fund --no-save swagger-ui-dist@5 >&2; then
  echo "setup: installed swagger-ui-dist into $dir"
else
  echo "setup: installing swagger-ui-dist with npm failed; the playground's API page will be missing" >&2
fi
exit 0
