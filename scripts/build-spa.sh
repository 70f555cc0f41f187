#!/usr/bin/env bash
# Builds the SPA in release into dist/, prints its compressed size and fails
# when wasm + js (gzip -9) is over the budget.
set -euo pipefail

# The one place the SPA's size budget is set: wasm + js, gzip -9, in bytes.
SPA_BUDGET_GZIP_BYTES=250000

cd "$(dirname "$0")/.."
# `--cfg erase_components` for the wasm target: .cargo/config.toml
trunk build --release --offline
wasm=$(ls dist/*.wasm) ; js=$(ls dist/*.js)
wasm_gz=$(gzip -9 -c "$wasm" | wc -c) ; js_gz=$(gzip -9 -c "$js" | wc -c)
total=$((wasm_gz + js_gz))
printf 'SPA size (gzip -9): wasm %s bytes, js %s bytes, total %s bytes (budget %s)\n' \
  "$wasm_gz" "$js_gz" "$total" "$SPA_BUDGET_GZIP_BYTES"
if [ "$total" -gt "$SPA_BUDGET_GZIP_BYTES" ]; then
  printf 'SPA over budget: wasm + js is %s bytes gzip -9, the budget is %s (SPA_BUDGET_GZIP_BYTES in %s)\n' \
    "$total" "$SPA_BUDGET_GZIP_BYTES" "$0" >&2
  exit 1
fi
