#!/usr/bin/env bash
# Load benchmark of token validation (session, API key, IdP JWTs, forward auth
# with a session: GET /api/v1/auths/verify), loopback only.
# Tessera runs as scripts/run.sh starts it (default settings and logging; only
# the listen address, data folder and test issuers are set), beside an outside
# floor: a bare axum server (/healthz, and /verify with bare jsonwebtoken).
# The servers are pinned to core 0, wrk to core 1; variants alternate, three
# rounds, medians reported. Writes a Markdown table to stdout.
#   scripts/bench.sh [seconds per run, default 5] [rounds, default 3]
# Both cores for the servers (wrk then shares them):
#   SERVER_CPUS=0,1 WRK_CPUS=0,1 WRK_THREADS=2 scripts/bench.sh
set -euo pipefail
DUR=${1:-5}
ROUNDS=${2:-3}
CONNS=${CONNS:-32}
SERVER_CPUS=${SERVER_CPUS:-0} # taskset lists; tokio starts a worker per CPU it may use
WRK_CPUS=${WRK_CPUS:-1}
WRK_THREADS=${WRK_THREADS:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cargo build --release -q -p tessera --bin tessera --example bench_tools
BIN=${BIN:-$CARGO_TARGET_DIR/release/tessera} # BIN=... measures another build
TOOLS=$CARGO_TARGET_DIR/release/examples/bench_tools
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}" $(cat "$WORK/pids" 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rsa.key" 2>/dev/null
openssl pkey -in "$WORK/rsa.key" -pubout -out "$WORK/rsa.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/ec.key" 2>/dev/null
openssl pkey -in "$WORK/ec.key" -pubout -out "$WORK/ec.pem"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_tessera() { # name cache_entries
  local dir=$WORK/$1 port; port=$(free_port); mkdir -p "$dir"
  cat >"$dir/tessera.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
data_dir = "$dir/data"
static_dir = "$dir/dist"
[cache]
verified_tokens = $2
[api_keys]
enabled = true
[[issuers]]
name = "rsa"
issuer = "https://rsa.bench"
audiences = ["app"]
algorithms = ["RS256"]
public_keys = ["$WORK/rsa.pem"]
[[issuers]]
name = "ec"
issuer = "https://ec.bench"
audiences = ["app"]
algorithms = ["ES256"]
public_keys = ["$WORK/ec.pem"]
TOML
  env -u RUST_LOG taskset -c "$SERVER_CPUS" "$BIN" --config "$dir/tessera.toml" >/dev/null 2>&1 &
  echo $! >>"$WORK/pids" # runs in $(...): PIDS would not reach the caller
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  echo "$port"
}

CACHED=$(start_tessera cached 10000)
NOCACHE=$(start_tessera nocache 0)
BASE_RS=$(free_port); taskset -c "$SERVER_CPUS" "$TOOLS" serve "127.0.0.1:$BASE_RS" RS256 "$WORK/rsa.pem" https://rsa.bench & PIDS+=($!)
BASE_EC=$(free_port); taskset -c "$SERVER_CPUS" "$TOOLS" serve "127.0.0.1:$BASE_EC" ES256 "$WORK/ec.pem" https://ec.bench & PIDS+=($!)
sleep 0.5

SESSION=$(curl -sf -H 'content-type: application/json' \
  -d '{"name":"Bench","email":"bench@example.com","password":"correct horse battery"}' \
  "http://127.0.0.1:$CACHED/api/v1/auths/signup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
APIKEY=$(curl -sf -X POST -H "Authorization: Bearer $SESSION" -H 'content-type: application/json' \
  "http://127.0.0.1:$CACHED/api/v1/auths/api_key" | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
RS=$("$TOOLS" mint RS256 "$WORK/rsa.key" https://rsa.bench ada)
ES=$("$TOOLS" mint ES256 "$WORK/ec.key" https://ec.bench ada)

# name|url|token
VARIANTS=(
  "bare-healthz|http://127.0.0.1:$BASE_RS/healthz|"
  "healthz|http://127.0.0.1:$CACHED/healthz|"
  "session|http://127.0.0.1:$CACHED/api/v1/auths/|$SESSION"
  "api-key|http://127.0.0.1:$CACHED/api/v1/auths/|$APIKEY"
  "rs256-cache|http://127.0.0.1:$CACHED/api/v1/auths/|$RS"
  "es256-cache|http://127.0.0.1:$CACHED/api/v1/auths/|$ES"
  "forward-auth|http://127.0.0.1:$CACHED/api/v1/auths/verify|$SESSION"
  "rs256-nocache|http://127.0.0.1:$NOCACHE/api/v1/auths/|$RS"
  "es256-nocache|http://127.0.0.1:$NOCACHE/api/v1/auths/|$ES"
  "baseline-rs256|http://127.0.0.1:$BASE_RS/verify|$RS"
  "baseline-es256|http://127.0.0.1:$BASE_EC/verify|$ES"
)
for v in "${VARIANTS[@]}"; do # every variant must answer 200 before measuring
  IFS='|' read -r name url token <<<"$v"
  code=$(curl -s -o /dev/null -w '%{http_code}' ${token:+-H "Authorization: Bearer $token"} "$url")
  [ "$code" = 200 ] || { echo "$name answered $code" >&2; exit 1; }
done

to_us() { sed -E 's/([0-9.]+)us/\1/; s/([0-9.]+)ms/\1*1000/; s/([0-9.]+)s$/\1*1000000/' | bc -l | xargs printf '%.0f'; }
declare -A RPS P99 ROUND_P99
for round in $(seq "$ROUNDS"); do
  for v in "${VARIANTS[@]}"; do
    IFS='|' read -r name url token <<<"$v"
    out=$(taskset -c "$WRK_CPUS" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DUR}s" --latency ${token:+-H "Authorization: Bearer $token"} "$url")
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    RPS[$name]+="$rps "; P99[$name]+="$p99 "; ROUND_P99[$round.$name]=$(to_us <<<"$p99")
    echo "round $round $name $rps req/s p99 $p99" >&2
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A M P
for v in "${VARIANTS[@]}"; do
  name=${v%%|*}
  M[$name]=$(median <<<"${RPS[$name]}")
  P[$name]=$(for x in ${P99[$name]}; do to_us <<<"$x"; echo; done | tr '\n' ' ' | median)
done
floor() { # the bare server a variant's p99 is held against
  case $1 in *rs256-nocache | baseline-rs256) echo baseline-rs256 ;; *es256-nocache | baseline-es256) echo baseline-es256 ;; *) echo bare-healthz ;; esac
}
# p99 against the bare server's in the same round (a machine's hiccup moves
# both), then the median over rounds
p99_ratio() {
  for round in $(seq "$ROUNDS"); do
    echo "scale=2; ${ROUND_P99[$round.$1]} / ${ROUND_P99[$round.$(floor "$1")]}" | bc
  done | tr '\n' ' ' | median
}
echo "| variant | req/s (median of $ROUNDS) | p99 (median) | p99 / the bare server's, same round (median; target ≤ 2) |"
echo "|---|---:|---:|---:|"
for v in "${VARIANTS[@]}"; do
  name=${v%%|*}
  echo "| $name | ${M[$name]} | ${P[$name]} µs | $(p99_ratio "$name") |"
done
ratio() { echo "scale=3; $1 / $2" | bc; }
echo
echo "| ratio | value | target |"
echo "|---|---:|---:|"
echo "| Tessera healthz / bare axum healthz | $(ratio "${M[healthz]}" "${M[bare-healthz]}") | ≥ 0.9 |"
for v in session api-key rs256-cache es256-cache forward-auth; do
  echo "| $v / bare axum healthz | $(ratio "${M[$v]}" "${M[bare-healthz]}") | ≥ 0.7 |"
done
echo "| RS256 no cache / bare axum + jsonwebtoken | $(ratio "${M[rs256-nocache]}" "${M[baseline-rs256]}") | ≥ 0.9 |"
echo "| ES256 no cache / bare axum + jsonwebtoken | $(ratio "${M[es256-nocache]}" "${M[baseline-es256]}") | ≥ 0.9 |"
echo "| session / Tessera healthz | $(ratio "${M[session]}" "${M[healthz]}") | |"
echo "| API key / Tessera healthz | $(ratio "${M[api-key]}" "${M[healthz]}") | |"
echo "| RS256 cached / Tessera healthz | $(ratio "${M[rs256-cache]}" "${M[healthz]}") | |"
echo "| ES256 cached / Tessera healthz | $(ratio "${M[es256-cache]}" "${M[healthz]}") | |"
echo "| forward auth (session) / Tessera healthz | $(ratio "${M[forward-auth]}" "${M[healthz]}") | |"
