#!/usr/bin/env bash
# contracts/: the pinned Solidity compiler (solc-js) from npm, for the recompile-and-compare test.
set -euo pipefail
command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm
cd "$ROOT/contracts"
if [ ! -f node_modules/solc/package.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --silent
fi
