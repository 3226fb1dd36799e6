#!/usr/bin/env bash
# Side-by-side benchmark: Tessera vs axum + tower-sessions vs plain axum (issue 2, item 7).
#
# For each target, in order:
#   axum-none       plain axum, no session layer (raw framework baseline)
#   ts-memory       axum + tower-sessions 0.15, MemoryStore
#   ts-sqlite       axum + tower-sessions 0.14 + tower-sessions-sqlx-store 0.15, SQLite file (WAL)
#   tessera-memory  tessera bench-server --store memory://
#   tessera-sqlite  tessera bench-server --store sqlite://PATH (durable: fsync per commit batch)
#   tessera-sqlite-relaxed  the same with ?durability=relaxed-loses-recent-writes-on-power-loss
#                   (synchronous=NORMAL, as tower-sessions' SQLite peer runs): the cost of the
#                   durable default is the difference between the two
# it starts the server on a free 127.0.0.1 port, creates N sessions (POST /login?user=i),
# measures the server's RSS before/after, then runs wrk for
#   (a) GET /me with a random one of the N session cookies per request, and
#   (b) POST /login?user=<random>,
# and records requests/s and p99 latency. The server is stopped by its PID after each target
# (and on any exit, by the trap). Only loopback addresses are used.
#
# Usage: scripts/bench.sh [options]
#   --only LIST        comma-separated subset of targets (default: all six)
#   --duration SECS    wrk duration per run (default 10)
#   --connections N    wrk connections (default 64)
#   --threads N        wrk threads (default 2)
#   --sessions N       sessions created before GET /me (default 10000)
#   --no-build         do not run cargo build (use the binaries already in target/release)
#   --write            write docs/benchmarks.md even if some target was skipped
#   --no-write         never write docs/benchmarks.md (print the table only)
#   --fleet            the shared-store targets instead (Redis, Redis Cluster, PostgreSQL; see
#                      scripts/bench-fleet.sh, which runs three rounds and writes their medians)
#   --seed-direct      Tessera targets sign their sessions in straight through the engine
#                      (`bench-server --seed`), not over HTTP: the way to 1M sessions for scale
#                      runs (RSS per session is not measured then)
#   --renewal-throttle SECS
#                      Tessera targets renew a session's idle deadline (a store write) only when
#                      its last renewal is this old (default: the policy's 60 s); a scale run
#                      whose seeding outlasts 60 s otherwise renews on nearly every request
#   --rounds N         measure every target N times, interleaved (round 1 of every target,
#                      then round 2, ...), and report each figure's median (default 3; the
#                      fleet targets default to 1: scripts/bench-fleet.sh runs the rounds)
#   --results FILE     also copy the raw result rows to FILE
#
# A full run (all six targets measured) replaces the section of docs/benchmarks.md between
# `<!-- bench:start -->` and `<!-- bench:end -->`; a partial run only prints, unless --write.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INVOCATION="scripts/bench.sh${*:+ $*}"

ALL_TARGETS=(axum-none ts-memory ts-sqlite tessera-memory tessera-sqlite tessera-sqlite-relaxed)
# --fleet: the shared stores (scripts/services.sh starts a Redis Cluster and finds or starts Redis
# and PostgreSQL). Each run starts from an empty prefix, schema or database.
# tessera-redis-lag: the opt-in local copy (?accept_revocation_lag_ms=100), beside the default.
FLEET_TARGETS=(ts-redis tessera-redis tessera-redis-lag tessera-redis-cluster ts-postgres tessera-postgres)
ONLY=""
DURATION=10
CONNECTIONS=64
THREADS=2
SESSIONS=10000
BUILD=1
WRITE=auto
FLEET=0
RESULTS_OUT=""
ROUNDS=""
SEED_DIRECT=0
RENEWAL_THROTTLE=""

die() { echo "bench: $*" >&2; exit 1; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --only) ONLY="${2:?--only needs a list}"; shift 2 ;;
        --only=*) ONLY="${1#*=}"; shift ;;
        --duration) DURATION="${2:?}"; shift 2 ;;
        --connections) CONNECTIONS="${2:?}"; shift 2 ;;
        --threads) THREADS="${2:?}"; shift 2 ;;
        --sessions) SESSIONS="${2:?}"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --write) WRITE=yes; shift ;;
        --no-write) WRITE=no; shift ;;
        --fleet) FLEET=1; shift ;;
        --seed-direct) SEED_DIRECT=1; shift ;;
        --results) RESULTS_OUT="${2:?--results needs a file}"; shift 2 ;;
        --renewal-throttle) RENEWAL_THROTTLE="${2:?}"; shift 2 ;;
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
if [[ -z "$ROUNDS" ]]; then
    if (( FLEET )); then ROUNDS=1; else ROUNDS=3; fi
fi
for n in "$DURATION" "$CONNECTIONS" "$THREADS" "$SESSIONS" "$ROUNDS"; do
    [[ "$n" =~ ^[0-9]+$ && "$n" -gt 0 ]] || die "numeric options must be positive integers"
done
(( DURATION <= 120 )) || die "--duration is capped at 120 s"
(( SESSIONS <= 1000000 )) || die "--sessions is capped at 1000000"
(( ROUNDS <= 9 )) || die "--rounds is capped at 9"

TARGETS=()
if (( FLEET )); then
    ALL_TARGETS=("${FLEET_TARGETS[@]}")
    WRITE=no # scripts/bench-fleet.sh writes the fleet section from three rounds
fi
if [[ -n "$ONLY" ]]; then
    IFS=',' read -r -a wanted <<<"$ONLY"
    for t in "${ALL_TARGETS[@]}"; do
        for w in "${wanted[@]}"; do [[ "$w" == "$t" ]] && TARGETS+=("$t"); done
    done
    for w in "${wanted[@]}"; do
        [[ " ${ALL_TARGETS[*]} " == *" $w "* ]] || die "unknown target '$w' (known: ${ALL_TARGETS[*]})"
    done
else
    TARGETS=("${ALL_TARGETS[@]}")
fi
[[ ${#TARGETS[@]} -gt 0 ]] || die "no targets selected"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TESSERA_BIN="${TESSERA_BIN:-$TARGET_DIR/release/tessera}"  # override to compare another build
PEER_BIN="$TARGET_DIR/release/bench-peer"

# ---------------------------------------------------------------- cleanup: never leave a server
WORK="$(mktemp -d /tmp/tessera-bench.XXXXXX)"
SERVER_PID=""
stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            kill "$SERVER_PID" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
            if kill -0 "$SERVER_PID" 2>/dev/null; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
        fi
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}
CHILD_PID=""
# Runs a (bounded) command in the background and waits for it, so that a signal interrupts the
# wait at once and the trap can stop both the command and the server.
run_child() { # outfile cmd...
    local out="$1" rc=0
    shift
    "$@" >"$out" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}
cleanup() {
    if [[ -n "$CHILD_PID" ]]; then kill "$CHILD_PID" 2>/dev/null || true; wait "$CHILD_PID" 2>/dev/null || true; fi
    stop_server
    if (( FLEET )); then stop_services; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- build
needs_tessera=0; needs_peer=0
for t in "${TARGETS[@]}"; do
    case "$t" in tessera-*) needs_tessera=1 ;; *) needs_peer=1 ;; esac
done
TESSERA_BUILD_OK=1
if (( BUILD )); then
    # The peer is a workspace of its own (bench/peer/Cargo.toml explains why), so it is one
    # more cargo invocation; it shares the target directory.
    if (( needs_peer )); then
        echo "bench: cargo build --release -p tessera-bench-peer (bench/peer)"
        CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --manifest-path bench/peer/Cargo.toml
    fi
    if (( needs_tessera )); then
        echo "bench: cargo build --release -p tessera"
        if ! cargo build --release -p tessera; then
            echo "bench: WARNING: building tessera failed; the tessera targets will be skipped" >&2
            TESSERA_BUILD_OK=0
        fi
    fi
fi

# ---------------------------------------------------------------- servers for --fleet
if (( FLEET )); then
    # shellcheck source=scripts/services.sh
    source "$ROOT/scripts/services.sh"
    start_services || die "cannot start the fleet servers"
    REDIS_HOSTPORT="${TESSERA_TEST_REDIS_URL#redis://}"
    # tower-sessions' Redis store writes bare session ids: give it a database of its own.
    TS_REDIS_URL="$TESSERA_TEST_REDIS_URL/7"
    PG_URL="$TESSERA_TEST_POSTGRES_URL"
fi
# Empties what a fleet target will write, so every run starts from nothing.
reset_store() { # target
    case "$1" in
        ts-redis) redis-cli -h "${REDIS_HOSTPORT%:*}" -p "${REDIS_HOSTPORT##*:}" -n 7 flushdb >/dev/null ;;
        tessera-redis|tessera-redis-lag)
            redis-cli -h "${REDIS_HOSTPORT%:*}" -p "${REDIS_HOSTPORT##*:}" --scan --pattern 'tessera-bench:*' |
                xargs -r -n 1000 redis-cli -h "${REDIS_HOSTPORT%:*}" -p "${REDIS_HOSTPORT##*:}" del >/dev/null ;;
        ts-postgres) psql "$PG_URL" -X -q -c 'DROP SCHEMA IF EXISTS tower_sessions CASCADE' >/dev/null 2>&1 ;;
        tessera-postgres) psql "$PG_URL" -X -q -c 'DROP SCHEMA IF EXISTS tessera_bench CASCADE' >/dev/null 2>&1 ;;
    esac
}

# ---------------------------------------------------------------- tools
if ! command -v wrk >/dev/null 2>&1; then
    echo "bench: wrk not found, installing it with apt-get"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y wrk
fi
command -v wrk >/dev/null || die "wrk is not available"
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed"

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# Session creator: N logins over a few keep-alive connections; writes one `name=value` per line.
cat >"$WORK/mksessions.py" <<'PY'
import http.client, random, sys, threading, time

port, n, cookie_name, out, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
baseline = sys.argv[6] == "1"  # axum-none answers "0" to any cookie

def rss_kb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")

def conn():
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)

def cookie_of(resp):
    for h in resp.msg.get_all("Set-Cookie") or []:
        pair = h.split(";", 1)[0].strip()
        if pair.startswith(cookie_name + "=") and len(pair) > len(cookie_name) + 1:
            return pair
    return None

def request(c, method, path, headers=None):
    for attempt in range(3):
        try:
            c.request(method, path, headers=headers or {})
            r = c.getresponse()
            body = r.read()
            return c, r, body
        except (http.client.HTTPException, OSError):
            if attempt == 2:
                raise
            c.close()
            c = conn()

def login(c, user):
    c, r, _ = request(c, "POST", f"/login?user={user}")
    if r.status != 200:
        raise SystemExit(f"POST /login?user={user} -> {r.status}")
    ck = cookie_of(r)
    if ck is None:
        raise SystemExit(f"POST /login gave no {cookie_name} cookie: {r.msg.get_all('Set-Cookie')}")
    return c, ck

# Warm-up: exercise login/me/logout so pools, buffers and threads exist before the RSS baseline.
c = conn()
for i in range(200):
    c, ck = login(c, 10_000_000 + i)
    c, r, _ = request(c, "GET", "/me", {"Cookie": ck})
    c, r, _ = request(c, "POST", "/logout", {"Cookie": ck})
c.close()
time.sleep(0.5)
before = rss_kb()

cookies = [None] * n
errors = []
def worker(k, parts):
    try:
        c = conn()
        for i in range(k, n, parts):
            c, cookies[i] = login(c, i + 1)
        c.close()
    except BaseException as e:  # noqa: BLE001 - reported below
        errors.append(repr(e))
parts = 4
threads = [threading.Thread(target=worker, args=(k, parts)) for k in range(parts)]
t0 = time.time()
for t in threads: t.start()
for t in threads: t.join()
if errors:
    raise SystemExit("session creation failed: " + errors[0])
elapsed = time.time() - t0
time.sleep(0.5)
after = rss_kb()

# Sanity: a sample of the cookies must resolve to the right subject.
c = conn()
for i in random.sample(range(n), min(50, n)):
    c, r, body = request(c, "GET", "/me", {"Cookie": cookies[i]})
    if r.status != 200:
        raise SystemExit(f"GET /me with session {i} -> {r.status}")
    want = "0" if baseline else str(i + 1)
    if body.decode().strip() != want:
        raise SystemExit(f"GET /me for user {i+1} answered {body!r}")
c.close()

with open(out, "w") as f:
    f.write("\n".join(cookies) + "\n")
print(f"{before} {after} {elapsed:.2f}")
PY

# wrk scripts. The cookie file holds one `name=value` line per session.
# common.lua numbers the threads, seeds each one apart and prints the summary line.
cp "$ROOT/scripts/wrk/common.lua" "$WORK/common.lua"
# The cookies are kept as one string and cut out by offset, not as a table of a million strings:
# LuaJIT's collector marks a table's array part in one step, and with 1M entries that step
# stalled wrk's thread for tens of milliseconds at a time, which showed up as every target's p99
# (plain axum's too) in the 1M-session scale runs.
{ cat "$WORK/common.lua"; cat <<'LUA'; } >"$WORK/me.lua"
local cookie_file = os.getenv("BENCH_COOKIE_FILE")
local blob, width, count
function init(args)
  local f = assert(io.open(cookie_file, "rb"))
  blob = f:read("*a")
  f:close()
  width = assert(blob:find("\n", 1, true), "empty cookie file")
  count = math.floor(#blob / width)
  for i = 1, count do
    assert(blob:byte(i * width) == 10, "cookie lines differ in length")
  end
  seed()
end
function request()
  local at = (math.random(count) - 1) * width
  return wrk.format("GET", "/me", { ["Cookie"] = blob:sub(at + 1, at + width - 1) })
end
LUA
{ cat "$WORK/common.lua"; cat <<'LUA'; } >"$WORK/login.lua"
function init(args)
  seed()
end
function request()
  return wrk.format("POST", "/login?user=" .. math.random(1, 1000000000))
end
LUA

# Bytes a session costs in a shared store, right after the sessions were created: Redis
# `MEMORY USAGE` of a sample of keys (sessions and, for Tessera, the subject indexes and epochs:
# every key the target wrote, scaled), PostgreSQL table + index size over the row count.
store_bytes() { # target
    local rc=(redis-cli -h "${REDIS_HOSTPORT%:*}" -p "${REDIS_HOSTPORT##*:}")
    case "$1" in
        ts-redis|tessera-redis|tessera-redis-lag)
            local db=0 pattern='tessera-bench:*'
            [[ "$1" == ts-redis ]] && { db=7; pattern='*'; }
            "${rc[@]}" -n "$db" --scan --pattern "$pattern" >"$WORK/keys"
            local n total
            n=$(wc -l <"$WORK/keys")
            (( n > 0 )) || return 1
            total=$(shuf -n 500 "$WORK/keys" | while read -r k; do "${rc[@]}" -n "$db" memory usage "$k" samples 0; done |
                awk '{s += $1; c++} END {printf "%.0f", (c ? s / c : 0)}')
            echo $(( total * n / SESSIONS ))
            ;;
        ts-postgres|tessera-postgres)
            local table=tower_sessions.session
            [[ "$1" == tessera-postgres ]] && table=tessera_bench.sessions
            psql "$PG_URL" -X -At -c "SELECT pg_total_relation_size('$table') / GREATEST(count(*), 1) FROM $table"
            ;;
        *) return 1 ;;
    esac
}

# Runs wrk; prints "rps p99_us non2xx sockerr".
run_wrk() { # port script
    local port="$1" script="$2" out="$WORK/wrk.out"
    if ! run_child "$out" timeout $((DURATION + 30)) wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" \
        --timeout 5s -s "$script" "http://127.0.0.1:$port"; then
        sed 's/^/    /' "$out" >&2
        return 1
    fi
    sed 's/^/    /' "$out" >&2
    awk '/^BENCH / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        print v["rps"], v["p99_us"], v["non2xx"], v["sockerr"] }' "$out"
}

# results.tsv: target status rps_me p99_me_us bad_me rps_login p99_login_us bad_login rss_before_kb rss_after_kb note
RESULTS="$WORK/results.tsv"
: >"$RESULTS"
# Other work on the machine skews the numbers; the load average goes into the report.
LOAD_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"
record_skip() { printf '%s\tskipped\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n' "$1" "$2" >>"$RESULTS"; echo "bench: SKIP $1: $2" >&2; }

for round in $(seq 1 "$ROUNDS"); do
for target in "${TARGETS[@]}"; do
    echo
    echo "=== $target (round $round of $ROUNDS)"
    # Every round starts from empty stores.
    rm -f "$WORK"/ts.db* "$WORK"/tessera.db* "$WORK"/tessera-relaxed.db*
    port="$(free_port)"
    addr="127.0.0.1:$port"
    case "$target" in
        axum-none)      cookie=id;            cmd=("$PEER_BIN" --mode none --listen "$addr") ;;
        ts-memory)      cookie=id;            cmd=("$PEER_BIN" --mode ts-memory --listen "$addr") ;;
        ts-sqlite)      cookie=id;            cmd=("$PEER_BIN" --mode ts-sqlite --listen "$addr" --db "$WORK/ts.db") ;;
        tessera-memory) cookie=__Host-session; cmd=("$TESSERA_BIN" bench-server --store memory:// --listen "$addr") ;;
        tessera-sqlite) cookie=__Host-session; cmd=("$TESSERA_BIN" bench-server --store "sqlite://$WORK/tessera.db" --listen "$addr") ;;
        tessera-sqlite-relaxed) cookie=__Host-session; cmd=("$TESSERA_BIN" bench-server --store "sqlite://$WORK/tessera-relaxed.db?durability=relaxed-loses-recent-writes-on-power-loss" --listen "$addr") ;;
        ts-redis)       cookie=id;            cmd=("$PEER_BIN" --mode ts-redis --listen "$addr" --url "$TS_REDIS_URL") ;;
        ts-postgres)    cookie=id;            cmd=("$PEER_BIN" --mode ts-postgres --listen "$addr" --url "$PG_URL") ;;
        tessera-redis)  cookie=__Host-session; cmd=("$TESSERA_BIN" bench-server --store "$TESSERA_TEST_REDIS_URL?prefix=tessera-bench" --listen "$addr") ;;
        tessera-redis-lag) cookie=__Host-session; cmd=("$TESSERA_BIN" bench-server --store "$TESSERA_TEST_REDIS_URL?prefix=tessera-bench&accept_revocation_lag_ms=100" --listen "$addr") ;;
        tessera-redis-cluster) cookie=__Host-session; cmd=("$TESSERA_BIN" bench-server --store "$TESSERA_TEST_REDIS_CLUSTER_URL?prefix=tessera-bench" --listen "$addr") ;;
        tessera-postgres) cookie=__Host-session; cmd=("$TESSERA_BIN" bench-server --store "$PG_URL?schema=tessera_bench" --listen "$addr") ;;
    esac
    reset_store "$target"
    cookies="$WORK/$target.cookies"
    seeded=0
    if (( SEED_DIRECT )) && [[ "$target" == tessera-* ]]; then
        cmd+=(--seed "$SESSIONS" --seed-cookies "$cookies")
        seeded=1
    fi
    if [[ -n "${RENEWAL_THROTTLE:-}" && "$target" == tessera-* ]]; then
        cmd+=(--renewal-throttle "$RENEWAL_THROTTLE")
    fi
    bin="${cmd[0]}"
    if [[ "$target" == tessera-* ]]; then
        if (( ! TESSERA_BUILD_OK )); then record_skip "$target" "tessera did not build"; continue; fi
        if [[ ! -x "$bin" ]]; then record_skip "$target" "$bin missing"; continue; fi
        if ! timeout 10 "$bin" bench-server --help >/dev/null 2>&1; then
            record_skip "$target" "'tessera bench-server' subcommand not available yet"; continue
        fi
    elif [[ ! -x "$bin" ]]; then
        record_skip "$target" "$bin missing (build bench/peer)"; continue
    fi

    "${cmd[@]}" >"$WORK/$target.log" 2>&1 &
    SERVER_PID=$!
    ready=0
    tries=100
    (( seeded )) && tries=36000 # seeding a million sessions takes minutes
    for _ in $(seq "$tries"); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$addr/me" || true)"
        if [[ "$code" == 401 ]]; then ready=1; break; fi
        sleep 0.1
    done
    if (( ! ready )); then
        sed 's/^/    /' "$WORK/$target.log" >&2 || true
        stop_server
        record_skip "$target" "server did not come up (GET /me without cookie must answer 401)"
        continue
    fi
    echo "  server pid $SERVER_PID on $addr, cookie $cookie"

    baseline=0; [[ "$target" == axum-none ]] && baseline=1
    if (( seeded )); then
        echo "0 0 $(grep -o 'seeded [0-9]* sessions in [0-9.]*' "$WORK/$target.log" | awk '{print $5}')" >"$WORK/mk.out"
    elif ! run_child "$WORK/mk.out" timeout 300 python3 "$WORK/mksessions.py" \
        "$port" "$SESSIONS" "$cookie" "$cookies" "$SERVER_PID" "$baseline"; then
        sed 's/^/    /' "$WORK/mk.out" >&2
        stop_server
        record_skip "$target" "creating $SESSIONS sessions failed"
        continue
    fi
    read -r rss_before rss_after mk_secs <"$WORK/mk.out"
    echo "  $SESSIONS sessions in ${mk_secs}s; RSS ${rss_before} kB -> ${rss_after} kB"
    if (( FLEET )); then
        store_bytes "$target" >"$WORK/$target.bytes" || echo "-" >"$WORK/$target.bytes"
        echo "  bytes per session in the store: $(cat "$WORK/$target.bytes")"
    fi

    echo "  wrk GET /me (random cookie of $SESSIONS)"
    export BENCH_COOKIE_FILE="$cookies"
    if ! run_wrk "$port" "$WORK/me.lua" >"$WORK/me.res" || ! read -r me_rps me_p99 me_bad me_sock <"$WORK/me.res"; then
        stop_server; record_skip "$target" "wrk GET /me failed"; continue
    fi
    echo "  wrk POST /login?user=<random>"
    if ! run_wrk "$port" "$WORK/login.lua" >"$WORK/login.res" || ! read -r li_rps li_p99 li_bad li_sock <"$WORK/login.res"; then
        stop_server; record_skip "$target" "wrk POST /login failed"; continue
    fi
    stop_server
    note=""
    (( me_bad + me_sock > 0 )) && note+="GET /me: $me_bad non-2xx, $me_sock socket errors. "
    (( li_bad + li_sock > 0 )) && note+="login: $li_bad non-2xx, $li_sock socket errors. "
    printf '%s\tok\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$me_rps" "$me_p99" "$((me_bad + me_sock))" \
        "$li_rps" "$li_p99" "$((li_bad + li_sock))" "$rss_before" "$rss_after" "$note" >>"$RESULTS"
done
done

# ---------------------------------------------------------------- report
CPU_MODEL="$(awk -F: '/^model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo)"
[[ -n "$CPU_MODEL" ]] || CPU_MODEL="unknown"
REPORT="$WORK/report.md"
BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" BENCH_NPROC="$(nproc)" BENCH_CPU="$CPU_MODEL" \
BENCH_LOAD="$LOAD_BEFORE" BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
BENCH_WRK="$(wrk -v 2>&1 | head -1 | awk '{print $1, $2}')" BENCH_CMD="$INVOCATION" \
BENCH_THREADS="$THREADS" BENCH_CONNECTIONS="$CONNECTIONS" BENCH_DURATION="$DURATION" BENCH_SESSIONS="$SESSIONS" \
BENCH_ROUNDS="$ROUNDS" python3 - "$RESULTS" "$REPORT" <<'PY'
import os, statistics, sys
E = os.environ
SESSIONS = int(E["BENCH_SESSIONS"])
ROUNDS = int(E["BENCH_ROUNDS"])
measured = {}  # target -> the rows of its rounds that ran
rows = {}      # target -> the row of medians (or its skip row when no round ran)
order = []
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("\t")
    if f[0] not in order:
        order.append(f[0])
    if f[1] == "ok":
        measured.setdefault(f[0], []).append(f)
    elif f[0] not in measured:
        rows[f[0]] = f
for t, fs in measured.items():
    med = [f"{statistics.median(float(f[i]) for f in fs):.1f}" for i in range(2, 10)]
    notes = " ".join(f"round {k + 1}: {f[10].strip()}" for k, f in enumerate(fs) if f[10].strip())
    if len(fs) < ROUNDS:
        notes += f" only {len(fs)} of {ROUNDS} rounds ran."
    rows[t] = [t, "ok"] + med + [notes]
ok = lambda t: t in rows and rows[t][1] == "ok"
num = lambda t, i: float(rows[t][i])
def ratio(a, b, i):
    return num(a, i) / num(b, i) if ok(a) and ok(b) and num(b, i) > 0 else None
def spread(a, b, i):
    """The lowest and highest ratio of single rounds (round k of a against round k of b)."""
    pairs = [float(x[i]) / float(y[i]) for x, y in zip(measured.get(a, []), measured.get(b, [])) if float(y[i]) > 0]
    return (min(pairs), max(pairs)) if len(pairs) > 1 else None
def fr(r):
    return "—" if r is None else f"{r:.2f}×"
def per_session(t):
    return (num(t, 9) - num(t, 8)) * 1024 / SESSIONS  # 0 when not measured (--seed-direct)
def ms(us):
    return f"{float(us) / 1000:.2f} ms"

out = []
out.append(f"Measured {E['BENCH_DATE']} on {E['BENCH_NPROC']} CPUs ({E['BENCH_CPU']}), "
           f"commit {E['BENCH_COMMIT']}, {E['BENCH_WRK']}; load average before the run: {E['BENCH_LOAD']}.")
out.append("")
out.append(f"Command: `{E['BENCH_CMD']}` (wrk -t{E['BENCH_THREADS']} -c{E['BENCH_CONNECTIONS']} "
           f"-d{E['BENCH_DURATION']}s, {SESSIONS} sessions, server and wrk on the same machine, 127.0.0.1); "
           f"each figure is the median of {ROUNDS} round{'s' if ROUNDS > 1 else ''}, the rounds interleaved.")
out.append("")
out.append("| target | GET /me req/s | GET /me p99 | /me vs axum-none | POST /login req/s | login p99 | login vs axum-none | RSS per idle session |")
out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
notes = []
for t in order:
    f = rows[t]
    if f[1] != "ok":
        out.append(f"| {t} | skipped: {f[10]} | | | | | | |")
        continue
    rss_cell = "—" if num(t, 9) == 0 else f"{per_session(t):,.0f} B"
    out.append(f"| {t} | {num(t,2):,.0f} | {ms(f[3])} | {fr(ratio(t,'axum-none',2))} | {num(t,5):,.0f} | {ms(f[6])} "
               f"| {fr(ratio(t,'axum-none',5))} | {rss_cell} |")
    if f[10]:
        notes.append(f"- {t}: {f[10].strip()}")
out.append("")
if notes:
    out.append("Errors during the runs (these numbers are suspect):")
    out.extend(notes)
    out.append("")

def check(label, a, b, i, want):
    r, s = ratio(a, b, i), spread(a, b, i)
    rounds = "—" if s is None else f"{s[0]:.2f}–{s[1]:.2f}×"
    if r is None:
        return f"| {label} | — | {rounds} | ≥ {want}× | not measured |"
    return f"| {label} | {r:.2f}× | {rounds} | ≥ {want}× | {'met' if r >= want else 'NOT met'} |"
out.append("| goal | median | single rounds | target | |")
out.append("|---|---:|---:|---:|---|")
out.append(check("GET /me, Tessera memory vs axum-none", "tessera-memory", "axum-none", 2, 0.9))
out.append(check("GET /me, Tessera SQLite vs axum-none", "tessera-sqlite", "axum-none", 2, 0.75))
out.append(check("login, Tessera memory vs axum-none", "tessera-memory", "axum-none", 5, 0.75))
out.append(check("login, Tessera SQLite (durable) vs axum-none", "tessera-sqlite", "axum-none", 5, 0.2))
out.append(check("login, Tessera SQLite (relaxed) vs axum-none", "tessera-sqlite-relaxed", "axum-none", 5, 0.2))
out.append(check("GET /me, Tessera SQLite vs tower-sessions SQLite", "tessera-sqlite", "ts-sqlite", 2, 2))
out.append(check("login, Tessera SQLite vs tower-sessions SQLite", "tessera-sqlite", "ts-sqlite", 5, 3))
out.append(check("login, Tessera memory vs tower-sessions memory", "tessera-memory", "ts-memory", 5, 1.2))
out.append(check("GET /me, Tessera memory vs tower-sessions memory", "tessera-memory", "ts-memory", 2, 1.2))
out.append("")
dur = ratio("tessera-sqlite", "tessera-sqlite-relaxed", 5)
out.append("Cost of the durable SQLite default (fsync per commit batch; tower-sessions' peer runs without it): "
           f"login at {fr(dur)} of the relaxed mode's rate; relaxed login vs tower-sessions SQLite "
           f"{fr(ratio('tessera-sqlite-relaxed', 'ts-sqlite', 5))}.")
def rss(t):
    return f"{per_session(t):,.0f} B" if ok(t) else "—"
out.append("")
out.append("| Tessera ÷ tower-sessions | GET /me | POST /login | RSS per idle session, Tessera | tower-sessions |")
out.append("|---|---:|---:|---:|---:|")
for store in ("memory", "sqlite"):
    te, ts = "tessera-" + store, "ts-" + store
    out.append(f"| {store} | {fr(ratio(te, ts, 2))} | {fr(ratio(te, ts, 5))} | {rss(te)} | {rss(ts)} |")
out.append("")
out.append("RSS per idle session = growth of the server's VmRSS over the session creation, divided by the "
           "session count; with SQLite it is mostly page cache. tower-sessions' MemoryStore is usually quoted at ~470 B.")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY

echo
cat "$REPORT"
if [[ -n "$RESULTS_OUT" ]]; then
    # The raw rows, and the store bytes per session of the fleet targets.
    cp "$RESULTS" "$RESULTS_OUT"
    for t in "${TARGETS[@]}"; do
        [[ -f "$WORK/$t.bytes" ]] && printf '%s\t%s\n' "$t" "$(cat "$WORK/$t.bytes")" >>"$RESULTS_OUT.bytes"
    done
fi

skipped="$(awk -F'\t' '$2 != "ok"' "$RESULTS" | wc -l)"
all_targets=$(( ${#TARGETS[@]} == ${#ALL_TARGETS[@]} && skipped == 0 ))
if [[ "$WRITE" == yes || ( "$WRITE" == auto && "$all_targets" == 1 ) ]]; then
    DOC="$ROOT/docs/benchmarks.md"
    [[ -f "$DOC" ]] || die "$DOC is missing"
    if ! grep -q '^<!-- bench:start -->$' "$DOC" || ! grep -q '^<!-- bench:end -->$' "$DOC"; then
        die "$DOC lacks the <!-- bench:start --> / <!-- bench:end --> markers"
    fi
    python3 - "$DOC" "$REPORT" <<'PY'
import sys
doc, report = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
start, end = "<!-- bench:start -->", "<!-- bench:end -->"
head, rest = text.split(start, 1)
_, tail = rest.split(end, 1)
open(doc, "w").write(head + start + "\n" + report + end + tail)
PY
    echo "bench: wrote the results into docs/benchmarks.md"
elif [[ "$WRITE" == auto ]]; then
    echo "bench: partial run (not all targets measured): docs/benchmarks.md left as is (--write forces it)"
fi
