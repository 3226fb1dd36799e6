#!/usr/bin/env bash
# Starts the servers the fleet-store tests need and exports where they are. Sourced by
# scripts/test.sh (and usable on its own: `source scripts/services.sh; start_services`).
#
#   TESSERA_TEST_REDIS_URL          a standalone Redis: the one on 127.0.0.1:6379 when it answers,
#                                   else one started here on a free loopback port
#   TESSERA_TEST_REDIS_CLUSTER_URL  a 3-master, 3-replica Redis Cluster, always started here on
#                                   free loopback ports, every node listed
#   TESSERA_TEST_POSTGRES_URL       a PostgreSQL: the one on 127.0.0.1:5432 (database test) when
#                                   it answers, else a throwaway cluster started here (initdb, as
#                                   the postgres user) on a free loopback port
#   TESSERA_TEST_POSTGRES_BIN       the directory of PostgreSQL's server programs (pg_ctl, ...)
#
# Everything started here is stopped by stop_services (test.sh calls it on exit), by PID.
# Missing packages come from Debian (redis-server, redis-tools, postgresql).
# TESSERA_OWN_POSTGRES=1 starts a throwaway PostgreSQL even when 5432 answers.

SERVICES_DIR=""
SERVICES_PIDS=()

services_say() { echo "services: $*"; }
services_fail() {
    echo "services: FAILED: $*" >&2
    return 1
}

# A loopback port that is free, and whose +10000 (a Cluster node's bus port) is free too.
free_port() {
    python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(500):
    p = random.randint(20000, 29999)
    if free(p) and free(p + 10000):
        print(p)
        break
PY
}

ensure_redis_packages() {
    if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
        return 0
    fi
    services_say "installing redis-server and redis-tools from Debian"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null; } ||
        services_fail "cannot install redis-server (apt-get); the Redis tests need it"
}

# start_redis_node PORT [extra redis-server arguments...]: a throwaway node, nothing on disk.
start_redis_node() {
    local port=$1
    shift
    local dir="$SERVICES_DIR/redis-$port"
    mkdir -p "$dir"
    # A child of this shell, not a daemon: stop_services kills and reaps it by PID.
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no \
        --logfile "$dir/log" "$@" >/dev/null 2>&1 &
    SERVICES_PIDS+=("$!")
    local i
    for i in $(seq 1 100); do
        if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then
            return 0
        fi
        sleep 0.05
    done
    services_fail "redis-server on port $port does not answer (see $dir/log)"
}

start_redis() {
    if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then
        export TESSERA_TEST_REDIS_URL="redis://127.0.0.1:6379"
        services_say "Redis: using the one on 127.0.0.1:6379"
        return 0
    fi
    local port
    port=$(free_port)
    start_redis_node "$port" || return 1
    export TESSERA_TEST_REDIS_URL="redis://127.0.0.1:$port"
    services_say "Redis: started on 127.0.0.1:$port"
}

start_redis_cluster() {
    local ports=() nodes=() port i
    for i in 1 2 3 4 5 6; do
        port=$(free_port)
        start_redis_node "$port" --cluster-enabled yes --cluster-config-file "nodes-$port.conf" \
            --cluster-node-timeout 2000 || return 1
        ports+=("$port")
        nodes+=("127.0.0.1:$port")
    done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$SERVICES_DIR/cluster-create.log" 2>&1 ||
        services_fail "redis-cli --cluster create failed (see $SERVICES_DIR/cluster-create.log)" || return 1
    for i in $(seq 1 200); do
        local ok=1
        for port in "${ports[@]}"; do
            redis-cli -p "$port" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
        done
        if [ "$ok" = 1 ]; then
            local list
            list=$(IFS=,; echo "${nodes[*]}")
            export TESSERA_TEST_REDIS_CLUSTER_URL="redis+cluster://$list"
            services_say "Redis Cluster: 3 masters + 3 replicas on ${ports[*]}"
            return 0
        fi
        sleep 0.1
    done
    services_fail "the Redis Cluster did not reach cluster_state:ok"
}

ensure_postgres_packages() {
    if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && command -v psql >/dev/null; then
        return 0
    fi
    services_say "installing postgresql from Debian"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } ||
        services_fail "cannot install postgresql (apt-get); the PostgreSQL tests need it"
}

SERVICES_PG_DATA=""

start_postgres() {
    local bin
    bin=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -1)")
    export TESSERA_TEST_POSTGRES_BIN="$bin"
    if [ "${TESSERA_OWN_POSTGRES:-0}" != 1 ] &&
        psql -h 127.0.0.1 -p 5432 -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
        export TESSERA_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/test"
        services_say "PostgreSQL: using the one on 127.0.0.1:5432"
        return 0
    fi
    local port run=()
    port=$(free_port)
    SERVICES_PG_DATA="$SERVICES_DIR/pg"
    mkdir -p "$SERVICES_PG_DATA"
    # PostgreSQL refuses to run as root: run its programs as the postgres user then.
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$SERVICES_DIR" "$SERVICES_PG_DATA"
        chmod 755 "$SERVICES_DIR"
        run=(runuser -u postgres --)
    fi
    "${run[@]}" "$bin/initdb" -D "$SERVICES_PG_DATA/data" -U postgres --auth=trust >"$SERVICES_DIR/initdb.log" 2>&1 ||
        services_fail "initdb failed (see $SERVICES_DIR/initdb.log)" || return 1
    "${run[@]}" "$bin/pg_ctl" -D "$SERVICES_PG_DATA/data" -l "$SERVICES_PG_DATA/log" -w -t 60 \
        -o "-p $port -k $SERVICES_PG_DATA -c listen_addresses=127.0.0.1" start >/dev/null ||
        services_fail "PostgreSQL did not start (see $SERVICES_PG_DATA/log)" || return 1
    psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc 'CREATE DATABASE test' >/dev/null ||
        services_fail "cannot create database test" || return 1
    export TESSERA_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/test"
    services_say "PostgreSQL: started on 127.0.0.1:$port"
}

# Drops what the tests left on the shared servers: schemas tessera_test_* / tessera_fleet_* and
# Redis keys tessera-test-* / tessera-fleet-* (each test works under a name of its own).
clean_test_data() {
    if [ -n "${TESSERA_TEST_POSTGRES_URL:-}" ]; then
        psql "$TESSERA_TEST_POSTGRES_URL" -X -q -At -c "SELECT 'DROP SCHEMA ' || nspname || ' CASCADE;' FROM pg_namespace WHERE nspname LIKE 'tessera\_test\_%' OR nspname LIKE 'tessera\_fleet\_%'" 2>/dev/null |
            psql "$TESSERA_TEST_POSTGRES_URL" -X -q >/dev/null 2>&1 || true
    fi
    if [ -n "${TESSERA_TEST_REDIS_URL:-}" ]; then
        local hostport=${TESSERA_TEST_REDIS_URL#redis://}
        local pattern
        for pattern in 'tessera-test-*' 'tessera-fleet-*'; do
            redis-cli -h "${hostport%:*}" -p "${hostport##*:}" --scan --pattern "$pattern" 2>/dev/null |
                xargs -r -n 500 redis-cli -h "${hostport%:*}" -p "${hostport##*:}" del >/dev/null 2>&1 || true
        done
    fi
}

stop_services() {
    clean_test_data
    if [ -n "$SERVICES_PG_DATA" ] && [ -d "$SERVICES_PG_DATA/data" ]; then
        local run=()
        [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
        "${run[@]}" "$TESSERA_TEST_POSTGRES_BIN/pg_ctl" -D "$SERVICES_PG_DATA/data" -m fast -w stop >/dev/null 2>&1 || true
        SERVICES_PG_DATA=""
    fi
    local pid
    for pid in "${SERVICES_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${SERVICES_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    SERVICES_PIDS=()
    if [ -n "$SERVICES_DIR" ]; then
        rm -rf "$SERVICES_DIR"
    fi
}

start_services() {
    SERVICES_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tessera-services.XXXXXX")
    ensure_redis_packages || return 1
    start_redis || return 1
    start_redis_cluster || return 1
    ensure_postgres_packages || return 1
    start_postgres || return 1
}
