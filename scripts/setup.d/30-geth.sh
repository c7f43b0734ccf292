#!/usr/bin/env bash
# devnet/: geth v1.13.15 (the last line that seals Clique blocks), built once through the Go
# module proxy and cached in .cache/geth/ (or set IPPYO_GETH=/path/to/geth-1.13). The Go
# toolchain go1.22.12 itself comes through the module proxy (GOTOOLCHAIN); any Go ≥ 1.21 can
# fetch it.
set -euo pipefail
cd "$ROOT"
command -v go >/dev/null || apt-get install -y -qq --no-install-recommends golang-go
.venv/bin/python -c "from devnet.network import build_geth; print('geth:', build_geth())"
