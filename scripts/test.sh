#!/usr/bin/env bash
# Sets up what is missing (Rust tools and Debian packages), builds the SPA and
# the release server once, and runs every test: unit, integration and browser.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
scripts/build-spa.sh
cargo fmt --all -- --check
python3 scripts/check-layers.py   # floors, no import circle, size limits
cargo build --release -p tessera
cargo clippy --release --all-targets -- -D warnings
cargo clippy --release -p tessera-frontend --target wasm32-unknown-unknown -- -D warnings
cargo test --release
cargo test --release -p tessera-frontend   # the SPA's pure helpers, natively
