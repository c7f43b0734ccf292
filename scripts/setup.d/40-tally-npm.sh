#!/usr/bin/env bash
# tally_server/: the pinned chart library (chart.js, from npm) for the officials' dashboard, copied
# into tally_server/officials/static/vendor/ where the app serves it itself (no CDN; the CSP allows 'self').
set -euo pipefail
command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm
cd "$ROOT/tally_server"
if [ ! -f node_modules/chart.js/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
fi
mkdir -p officials/static/vendor
cp node_modules/chart.js/dist/chart.umd.js officials/static/vendor/chart.umd.js
cp node_modules/chart.js/LICENSE.md officials/static/vendor/chart.js-LICENSE.md
