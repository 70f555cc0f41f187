#!/usr/bin/env bash
# Instructions per request of the token hot path, under callgrind: stable even
# on a busy machine, unlike req/s. One release server (built with line tables)
# runs under valgrind; for each variant a keep-alive client sends WARM requests,
# the counters are zeroed, N more requests are sent and the counters dumped.
#   scripts/callgrind.sh [N, default 2000]
# CACHE=0 runs the server with `[cache] verified_tokens = 0` and measures the
# RS256 token only (the no-cache path).
# Writes a Markdown table to stdout; the dumps (for callgrind_annotate) stay in
# $OUT (default: a temporary folder, printed).
set -euo pipefail
N=${1:-2000}
WARM=${WARM:-200}
CACHE=${CACHE:-10000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release -q -p tessera --bin tessera --example bench_tools
BIN=${BIN:-$CARGO_TARGET_DIR/release/tessera}
TOOLS=$CARGO_TARGET_DIR/release/examples/bench_tools
WORK=$(mktemp -d)
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT" # valgrind cannot write its dumps into a missing folder
VG=
cleanup() {
  [ -n "$VG" ] && kill "$VG" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rsa.key" 2>/dev/null
openssl pkey -in "$WORK/rsa.key" -pubout -out "$WORK/rsa.pem"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/tessera.toml" <<TOML
[server]
listen = "127.0.0.1:$PORT"
data_dir = "$WORK/data"
static_dir = "$WORK/dist"
[cache]
verified_tokens = $CACHE
[api_keys]
enabled = true
[[issuers]]
name = "rsa"
issuer = "https://rsa.bench"
audiences = ["app"]
algorithms = ["RS256"]
public_keys = ["$WORK/rsa.pem"]
TOML
RUST_LOG=warn valgrind --tool=callgrind --compress-strings=no --callgrind-out-file="$OUT/callgrind.out.%p" \
  "$BIN" --config "$WORK/tessera.toml" >"$WORK/server.log" 2>&1 &
VG=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done

SESSION=$(curl -sf -H 'content-type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"correct horse battery"}' \
  "http://127.0.0.1:$PORT/api/v1/auths/signup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
APIKEY=$(curl -sf -X POST -H "Authorization: Bearer $SESSION" -H 'content-type: application/json' \
  "http://127.0.0.1:$PORT/api/v1/auths/api_key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
RS=$("$TOOLS" mint RS256 "$WORK/rsa.key" https://rsa.bench ada)

send() { # count path token
  python3 - "$PORT" "$@" <<'PY'
import http.client, sys
port, count, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
token = sys.argv[4] if len(sys.argv) > 4 else ""
headers = {"Authorization": "Bearer " + token} if token else {}
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(count):
    c.request("GET", path, headers=headers)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"{path} answered {r.status}")
c.close()
PY
}

VARIANTS=("healthz|/healthz|" "session|/api/v1/auths/|$SESSION"
  "api-key|/api/v1/auths/|$APIKEY" "rs256-cache|/api/v1/auths/|$RS")
[ "$CACHE" = 0 ] && VARIANTS=("rs256-nocache|/api/v1/auths/|$RS")
echo "| variant | instructions / request |"
echo "|---|---:|"
for v in "${VARIANTS[@]}"; do
  IFS='|' read -r name path token <<<"$v"
  send "$WARM" "$path" "$token"
  callgrind_control -z "$VG" >/dev/null 2>&1
  send "$N" "$path" "$token"
  callgrind_control -d "$name" "$VG" >/dev/null 2>&1
  f=$(ls -t "$OUT"/callgrind.out.* | head -1)
  ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
  echo "| $name | $((ir / N)) |"
done
echo "dumps in $OUT" >&2
