#!/usr/bin/env bash
# Anonymous-traffic flood against `tessera demo` (hardening issue 6, item 8): N anonymous
# `GET /login` requests (no cookie, as a bot sends them), then the SQLite store's size and row
# count, and the latency of real sign-ins (GET /login + POST /login) made after the flood.
#
# Usage: scripts/anon-flood.sh [--requests N] [--bin PATH] [--label TEXT]
#   --requests N   anonymous requests (default 100000)
#   --bin PATH     the tessera binary to measure (default: target/release/tessera, built here);
#                  pass an older build to compare before/after
#   --label TEXT   a name for the printed result line
#   --relaxed      open the store with ?durability=relaxed-loses-recent-writes-on-power-loss
#                  (no fsync per commit), to separate that cost from the rest
# Prints one Markdown table row. Only 127.0.0.1 is used; the server is stopped by its PID.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQUESTS=100000
BIN=""
LABEL="this build"
QUERY=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --requests) REQUESTS="${2:?}"; shift 2 ;;
        --bin) BIN="${2:?}"; shift 2 ;;
        --label) LABEL="${2:?}"; shift 2 ;;
        --relaxed) QUERY="?durability=relaxed-loses-recent-writes-on-power-loss"; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "anon-flood: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ "$REQUESTS" =~ ^[0-9]+$ ]] || { echo "anon-flood: --requests needs a number" >&2; exit 2; }
if [[ -z "$BIN" ]]; then
    cargo build --release --locked -p tessera >&2
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/tessera"
fi
[[ -x "$BIN" ]] || { echo "anon-flood: no binary at $BIN" >&2; exit 2; }
if ! command -v ab >/dev/null; then
    apt-get update -qq >&2 && apt-get install -y -qq apache2-utils >&2
fi

WORK="$(mktemp -d)"
PID=""
cleanup() { [[ -n "$PID" ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
(cd "$WORK" && exec "$BIN" demo --listen "127.0.0.1:$PORT" --store "sqlite://$WORK/flood.db$QUERY" 2>"$WORK/server.log") &
PID=$!
for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PORT), 1)" 2>/dev/null && break
    sleep 0.1
done

# ab sends exactly N requests (32 at a time), each without a cookie, as a bot does.
START=$(date +%s.%N)
ab -q -n "$REQUESTS" -c 32 "http://127.0.0.1:$PORT/login" >"$WORK/ab.txt"
END=$(date +%s.%N)

python3 - "$PORT" "$WORK" "$LABEL" "$REQUESTS" "$START" "$END" <<'PY'
import http.client, os, re, sqlite3, statistics, sys, time, urllib.parse
port, work, label, requests, start, end = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
ab = open(os.path.join(work, "ab.txt")).read()
done = re.search(r"Complete requests:\s+(\d+)", ab)
non2xx = re.search(r"Non-2xx responses:\s+(\d+)", ab)

def sign_in():
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    t0 = time.perf_counter()
    c.request("GET", "/login")
    r = c.getresponse(); body = r.read().decode()
    jar = "; ".join(v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie")
    csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
    form = urllib.parse.urlencode({"username": "bob", "password": "builder", "csrf": csrf})
    c.request("POST", "/login", body=form, headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": jar})
    r = c.getresponse(); r.read()
    t1 = time.perf_counter()
    if r.status != 303:
        raise SystemExit(f"sign-in after the flood failed: {r.status}")
    return (t1 - t0) * 1000

lat = sorted(sign_in() for _ in range(50))
db = os.path.join(work, "flood.db")
size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
rows = sqlite3.connect(db).execute("SELECT count(*) FROM sessions").fetchone()[0]
print(f"| {label} | {done.group(1) if done else '?'} ({non2xx.group(1) if non2xx else 0} non-2xx) in {end - start:.1f} s "
      f"| {size / 1e6:.1f} MB | {rows:,} | {statistics.median(lat):.2f} ms | {lat[-3]:.2f} ms |")  # 48th of 50: the 95th percentile
PY
