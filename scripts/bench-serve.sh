#!/usr/bin/env bash
# The service benchmark: resolving a session over `tessera serve`'s API (POST
# /v1/sessions/resolve with an API key) next to the in-process tower layer's GET /me on the same
# store, with SESSIONS live sessions, on SQLite and on Redis, plus `redis-benchmark -t get` as
# the physical reference. Both sides run in one script on one machine, ROUNDS rounds (default
# 3); the medians go into docs/benchmarks.md between <!-- serve:start --> and <!-- serve:end -->.
# Target (issue 9): API resolve >= 0.5x the in-process layer's GET /me on the same store.
#
# Usage: scripts/bench-serve.sh [--rounds N] [--sessions N] [--duration SECS] [--stores sqlite,redis]
#                               [--no-build] [--no-write]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INVOCATION="scripts/bench-serve.sh${*:+ $*}"
ROUNDS=3 SESSIONS=10000 DURATION=10 STORES="sqlite,redis" BUILD=1 WRITE=1
CONNECTIONS=64 THREADS=2
die() { echo "bench-serve: $*" >&2; exit 2; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --sessions) SESSIONS="${2:?}"; shift 2 ;;
        --duration) DURATION="${2:?}"; shift 2 ;;
        --stores) STORES="${2:?}"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --no-write) WRITE=0; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
for n in "$ROUNDS" "$SESSIONS" "$DURATION"; do [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "counts must be positive integers"; done
(( DURATION <= 120 && SESSIONS <= 1000000 )) || die "--duration is capped at 120 s, --sessions at 1000000"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/release/tessera"
if (( BUILD )); then
    echo "bench-serve: cargo build --release -p tessera"
    cargo build --release -p tessera
fi
[[ -x "$BIN" ]] || die "$BIN missing (build it, or drop --no-build)"
command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
command -v wrk >/dev/null || die "wrk is not available"

source "$ROOT/scripts/services.sh"
WORK="$(mktemp -d /tmp/tessera-bench-serve.XXXXXX)"
PIDS=()
stop_all() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
}
SERVICES=0
cleanup() {
    stop_all
    (( SERVICES )) && stop_services
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if [[ ",$STORES," == *,redis,* ]]; then
    start_services >/dev/null
    SERVICES=1
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { # url expected-code pid
    for _ in $(seq 600); do
        kill -0 "$3" 2>/dev/null || return 1
        [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true)" == "$2" ]] && return 0
        sleep 0.1
    done
    return 1
}
run_wrk() { # port script -> "rps p99_us bad"
    local out="$WORK/wrk.out"
    timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 5s \
        -s "$2" "http://127.0.0.1:$1" >"$out" 2>&1 || { cat "$out" >&2; return 1; }
    awk '/^BENCH / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        print v["rps"], v["p99_us"], v["non2xx"] + v["sockerr"] }' "$out"
}

{ cat scripts/wrk/common.lua; cat <<'LUA'; } >"$WORK/me.lua"
local lines = {}
function init(args)
  for line in io.lines(os.getenv("BENCH_COOKIE_FILE")) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  seed()
end
function request()
  return wrk.format("GET", "/me", { ["Cookie"] = lines[math.random(#lines)] })
end
LUA
{ cat scripts/wrk/common.lua; cat <<'LUA'; } >"$WORK/resolve.lua"
local bodies = {}
local headers = {}
function init(args)
  for line in io.lines(os.getenv("BENCH_COOKIE_FILE")) do
    local token = line:match("=(.+)$")
    if token then bodies[#bodies + 1] = '{"token":"' .. token .. '"}' end
  end
  headers["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")
  headers["Content-Type"] = "application/json"
  seed()
end
function request()
  return wrk.format("POST", "/v1/sessions/resolve", headers, bodies[math.random(#bodies)])
end
LUA

RESULTS="$WORK/results.tsv"   # round store inproc_rps inproc_p99 api_rps api_p99 bad
: >"$RESULTS"
REFS="$WORK/refs.tsv"
: >"$REFS"
IFS=',' read -r -a store_list <<<"$STORES"
for round in $(seq 1 "$ROUNDS"); do
    for store in "${store_list[@]}"; do
        case "$store" in
            sqlite) url="sqlite://$WORK/r$round.db" ;;
            redis) url="$TESSERA_TEST_REDIS_URL?prefix=tessera-bench-serve-$round-$$" ;;
            *) die "unknown store $store (sqlite, redis)" ;;
        esac
        echo "=== round $round, $store"
        cookies="$WORK/cookies"
        port="$(free_port)"
        "$BIN" bench-server --store "$url" --listen "127.0.0.1:$port" --seed "$SESSIONS" \
            --seed-cookies "$cookies" >"$WORK/inproc.log" 2>&1 &
        PIDS+=($!)
        wait_http "http://127.0.0.1:$port/me" 401 "${PIDS[-1]}" || { cat "$WORK/inproc.log" >&2; die "bench-server did not start"; }
        export BENCH_COOKIE_FILE="$cookies"
        read -r in_rps in_p99 in_bad < <(run_wrk "$port" "$WORK/me.lua")
        stop_all
        echo "  in-process GET /me: $in_rps req/s, p99 $in_p99 us, $in_bad errors"

        port="$(free_port)"
        "$BIN" serve --store "$url" --listen "127.0.0.1:$port" >"$WORK/serve.out" 2>"$WORK/serve.log" &
        PIDS+=($!)
        wait_http "http://127.0.0.1:$port/readyz" 200 "${PIDS[-1]}" || { cat "$WORK/serve.log" >&2; die "serve did not start"; }
        BENCH_KEY="$(grep -o 'tessera_key_[A-Za-z0-9_-]*' "$WORK/serve.out" | head -1)"
        [[ -n "$BENCH_KEY" ]] || die "serve printed no admin key (the store was not fresh)"
        export BENCH_KEY
        read -r api_rps api_p99 api_bad < <(run_wrk "$port" "$WORK/resolve.lua")
        stop_all
        echo "  API resolve:        $api_rps req/s, p99 $api_p99 us, $api_bad errors"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$store" "$in_rps" "$in_p99" "$api_rps" "$api_p99" \
            "$((in_bad + api_bad))" >>"$RESULTS"
        if [[ "$store" == redis ]]; then
            hp=${TESSERA_TEST_REDIS_URL#redis://}
            redis-cli -h "${hp%:*}" -p "${hp##*:}" --scan --pattern "tessera-bench-serve-$round-$$:*" |
                xargs -r -n 500 redis-cli -h "${hp%:*}" -p "${hp##*:}" del >/dev/null
            redis-benchmark -h "${hp%:*}" -p "${hp##*:}" -t get -n 200000 -c 64 --threads 2 -q 2>/dev/null |
                tr '\r' '\n' | awk '/requests per second/ {print "redis-benchmark-get\t" $2}' >>"$REFS"
        fi
    done
done

CPU_MODEL="$(awk -F: '/^model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo)"
BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" BENCH_NPROC="$(nproc)" BENCH_CPU="${CPU_MODEL:-unknown}" \
BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" BENCH_CMD="$INVOCATION" \
BENCH_SESSIONS="$SESSIONS" BENCH_DURATION="$DURATION" \
python3 - "$RESULTS" "$REFS" >"$WORK/report.md" <<'PY'
import os, statistics, sys
E = os.environ
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
refs = [float(l.split("\t")[1]) for l in open(sys.argv[2]) if l.strip()]
med = statistics.median
print(f"Measured {E['BENCH_DATE']} on {E['BENCH_NPROC']} cores ({E['BENCH_CPU']}), commit {E['BENCH_COMMIT']}, "
      f"with `{E['BENCH_CMD']}`: {E['BENCH_SESSIONS']} live sessions, wrk 2 threads × 64 connections × "
      f"{E['BENCH_DURATION']} s per run, medians of {len(rows) // max(1, len({r[1] for r in rows}))} rounds. "
      "The server, its store and wrk share the machine.\n")
print("| store | in-process GET /me (req/s) | p99 | API resolve (req/s) | p99 | ratio (target ≥ 0.5×) | errors |")
print("|---|---:|---:|---:|---:|---:|---:|")
for store in dict.fromkeys(r[1] for r in rows):
    rs = [r for r in rows if r[1] == store]
    ins, api = med(float(r[2]) for r in rs), med(float(r[4]) for r in rs)
    p_in, p_api = med(float(r[3]) for r in rs) / 1000, med(float(r[5]) for r in rs) / 1000
    bad = sum(int(r[6]) for r in rs)
    verdict = "met" if api >= 0.5 * ins else "NOT met"
    print(f"| {store} | {ins:,.0f} | {p_in:.1f} ms | {api:,.0f} | {p_api:.1f} ms | {api / ins:.2f}× ({verdict}) | {bad} |")
if refs:
    print(f"\nReference: `redis-benchmark -t get -c 64 --threads 2` on the same Redis: {med(refs):,.0f} GET/s "
          "(one command per request, no HTTP, no parsing).")
PY
cat "$WORK/report.md"
if (( WRITE )); then
    python3 - "$WORK/report.md" docs/benchmarks.md <<'PY'
import sys
report, doc = open(sys.argv[1]).read().strip(), sys.argv[2]
text = open(doc).read()
start, end = "<!-- serve:start -->", "<!-- serve:end -->"
block = f"{start}\n{report}\n{end}"
if start in text and end in text:
    text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## The service: API resolve next to the in-process layer\n\n" + block + "\n"
open(doc, "w").write(text)
PY
    echo "bench-serve: wrote docs/benchmarks.md"
fi
