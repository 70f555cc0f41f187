#!/usr/bin/env bash
# Sets up what is missing, builds the SPA and the server in release, and runs
# Tessera on http://127.0.0.1:8080 (SQLite in ./data). Arguments go to `tessera`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build-spa.sh
cargo build --release -p tessera
exec "${CARGO_TARGET_DIR:-target}/release/tessera" "$@"
