#!/usr/bin/env bash
# demo.sh
#
# Placeholder for the end-to-end demo behind `make demo`: for now it only prepares the
# checkout (system packages, node_modules, dist/) and says so. Later issues replace the
# body with a walk through token, signing and publishing against a local notary-server.
set -euo pipefail
cd "$(dirname "$0")/.."
make --no-print-directory deps build
echo "demo grows with later issues"
