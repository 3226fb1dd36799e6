#!/usr/bin/env bash
# The fleet benchmark: Tessera on Redis, a Redis Cluster and PostgreSQL side by side with
# tower-sessions' Redis store (tower-sessions-redis-store) and PostgreSQL store
# (tower-sessions-sqlx-store), and the servers' own speed as the physical reference
# (`redis-benchmark -t get`, `pgbench -S`), in ROUNDS rounds (default 3) on one machine; the
# medians go into docs/benchmarks.md between <!-- fleet:start --> and <!-- fleet:end -->.
#
# Usage: scripts/bench-fleet.sh [--rounds N] [--no-write] [bench.sh options such as --duration 10]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
INVOCATION="scripts/bench-fleet.sh${*:+ $*}"
ROUNDS=3
WRITE=1
PASS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS="${2:?}"; shift 2 ;;
        --no-write) WRITE=0; shift ;;
        *) PASS+=("$1"); shift ;;
    esac
done
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "bench-fleet: --rounds must be a positive integer" >&2; exit 2; }
OUT="$(mktemp -d /tmp/tessera-bench-fleet.XXXXXX)"
trap 'rm -rf "$OUT"' EXIT

# The reference servers' own speed, on the same servers the targets use.
source "$ROOT/scripts/services.sh"
reference() { # round
    start_services >/dev/null
    local hp=${TESSERA_TEST_REDIS_URL#redis://}
    # -q still draws progress lines ending in \r; the summary is "GET: N requests per second".
    redis-benchmark -h "${hp%:*}" -p "${hp##*:}" -t get -n 200000 -c 64 --threads 2 -q 2>/dev/null |
        tr '\r' '\n' | awk '/requests per second/ {print "redis-benchmark-get\t" $2}' >>"$OUT/reference.$1"
    psql "$TESSERA_TEST_POSTGRES_URL" -X -q -c 'DROP SCHEMA IF EXISTS pgbench_ref CASCADE' >/dev/null
    pgbench -i -q -s 1 "$TESSERA_TEST_POSTGRES_URL" >/dev/null 2>&1
    pgbench -S -c 16 -j 2 -T 10 -n "$TESSERA_TEST_POSTGRES_URL" 2>/dev/null |
        awk '/^tps/ {print "pgbench-select-only\t" $3}' >>"$OUT/reference.$1"
    psql "$TESSERA_TEST_POSTGRES_URL" -X -q -c 'DROP TABLE IF EXISTS pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers' >/dev/null
    stop_services
}

for round in $(seq 1 "$ROUNDS"); do
    echo "=== round $round of $ROUNDS"
    build=()
    (( round > 1 )) && build=(--no-build)
    bash scripts/bench.sh --fleet "${build[@]}" --results "$OUT/results.$round" "${PASS[@]}"
    reference "$round"
done

CPU_MODEL="$(awk -F: '/^model name/ {sub(/^[ \t]+/, "", $2); print $2; exit}' /proc/cpuinfo)"
BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')" BENCH_NPROC="$(nproc)" BENCH_CPU="${CPU_MODEL:-unknown}" \
BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" BENCH_CMD="$INVOCATION" \
python3 - "$OUT" "$ROUNDS" >"$OUT/report.md" <<'PY'
import os, statistics, sys
E = os.environ
out_dir, rounds = sys.argv[1], int(sys.argv[2])
runs = {}   # target -> list of (rps_me, p99_me, rps_login, p99_login)
sizes = {}  # target -> list of bytes per session
refs = {}   # name -> list of ops/s
for r in range(1, rounds + 1):
    for line in open(f"{out_dir}/results.{r}"):
        f = line.rstrip("\n").split("\t")
        if f[1] == "ok":
            runs.setdefault(f[0], []).append((float(f[2]), float(f[3]), float(f[5]), float(f[6])))
    try:
        for line in open(f"{out_dir}/results.{r}.bytes"):
            t, b = line.split()
            if b.isdigit():
                sizes.setdefault(t, []).append(int(b))
    except FileNotFoundError:
        pass
    try:
        for line in open(f"{out_dir}/reference.{r}"):
            name, v = line.split()
            refs.setdefault(name, []).append(float(v))
    except FileNotFoundError:
        pass
med = lambda xs: statistics.median(xs) if xs else None
def m(t, i):
    return med([x[i] for x in runs.get(t, [])])
def ratio(a, b, i):
    x, y = m(a, i), m(b, i)
    return None if x is None or not y else x / y
fr = lambda r: "—" if r is None else f"{r:.2f}×"
o = []
o.append(f"Measured {E['BENCH_DATE']} on {E['BENCH_NPROC']} CPUs ({E['BENCH_CPU']}), commit {E['BENCH_COMMIT']}; "
         f"median of {rounds} rounds. Command: `{E['BENCH_CMD']}`. Redis and PostgreSQL are the machine's "
         "own servers on loopback (or ones scripts/services.sh started), the Cluster 3 masters + 3 replicas on loopback.")
o.append("")
o.append("| target | GET /me req/s | GET /me p99 | POST /login req/s | login p99 | store bytes per session |")
o.append("|---|---:|---:|---:|---:|---:|")
for t in ("ts-redis", "tessera-redis", "tessera-redis-lag", "tessera-redis-cluster", "ts-postgres", "tessera-postgres"):
    if t not in runs:
        o.append(f"| {t} | not measured | | | | |")
        continue
    b = med(sizes.get(t, []))
    o.append(f"| {t} | {m(t,0):,.0f} | {m(t,1)/1000:.2f} ms | {m(t,2):,.0f} | {m(t,3)/1000:.2f} ms | "
             f"{'—' if b is None else f'{b:,.0f} B'} |")
o.append("")
o.append("| goal | measured | target | |")
o.append("|---|---:|---:|---|")
def check(label, r, want):
    if r is None:
        return f"| {label} | — | ≥ {want}× | not measured |"
    return f"| {label} | {r:.2f}× | ≥ {want}× | {'met' if r >= want else 'NOT met'} |"
o.append(check("GET /me, Tessera Redis vs tower-sessions Redis", ratio("tessera-redis", "ts-redis", 0), 1.2))
o.append(check("login, Tessera Redis vs tower-sessions Redis", ratio("tessera-redis", "ts-redis", 2), 1.5))
o.append(check("GET /me, Tessera Redis with the opt-in local copy (lag 100 ms) vs tower-sessions Redis", ratio("tessera-redis-lag", "ts-redis", 0), 1.2))
o.append(check("login, Tessera Redis with the opt-in local copy (lag 100 ms) vs tower-sessions Redis", ratio("tessera-redis-lag", "ts-redis", 2), 1.5))
o.append(check("GET /me, Tessera PostgreSQL vs tower-sessions PostgreSQL", ratio("tessera-postgres", "ts-postgres", 0), 1.5))
o.append(check("login, Tessera PostgreSQL vs tower-sessions PostgreSQL", ratio("tessera-postgres", "ts-postgres", 2), 1.5))
o.append("")
rb, pg = med(refs.get("redis-benchmark-get", [])), med(refs.get("pgbench-select-only", []))
o.append("Physical reference on the same servers: "
         f"`redis-benchmark -t get -c 64 --threads 2` {'—' if rb is None else f'{rb:,.0f}'} GET/s; "
         f"`pgbench -S -c 16 -j 2 -T 10` {'—' if pg is None else f'{pg:,.0f}'} transactions/s. "
         "Each GET /me on Tessera is one `HGET` (Redis) or one primary-key `SELECT` (PostgreSQL), so these bound it; "
         "the HTTP server and wrk share the same two cores.")
print("\n".join(o))
PY
cat "$OUT/report.md"
if (( WRITE )); then
    python3 - "$ROOT/docs/benchmarks.md" "$OUT/report.md" <<'PY'
import sys
doc, report = sys.argv[1], open(sys.argv[2]).read()
text = open(doc).read()
start, end = "<!-- fleet:start -->", "<!-- fleet:end -->"
if start not in text:
    text += f"\n## Fleet stores (scripts/bench-fleet.sh)\n\n{start}\n{end}\n"
head, rest = text.split(start, 1)
_, tail = rest.split(end, 1)
open(doc, "w").write(head + start + "\n" + report + end + tail)
PY
    echo "bench-fleet: wrote the results into docs/benchmarks.md"
fi
