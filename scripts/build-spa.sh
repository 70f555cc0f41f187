#!/usr/bin/env bash
# Builds the SPA in release into dist/ and prints its compressed size.
set -euo pipefail
cd "$(dirname "$0")/.."
trunk build --release --offline
wasm=$(ls dist/*.wasm) ; js=$(ls dist/*.js)
printf 'SPA size (gzip -9): wasm %s bytes, js %s bytes\n' \
  "$(gzip -9 -c $wasm | wc -c)" "$(gzip -9 -c $js | wc -c)"
