#!/usr/bin/env bash
# Scaling figures (not part of the test run): calls analysed per minute with 1, 2 and 4 worker
# processes of each kind, for transcript-only and recording-only calls, and what one call costs
# the record (Postgres statements, rows and WAL, Redis commands, bytes stored). Starts Postgres
# (fsync on, pg_stat_statements loaded) and Redis on loopback; tests/bench/scaling.py does the rest.
#   tests/bench/scaling.sh [--transcript-calls 1000] [--recording-calls 24] [--counts 1,2,4]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh
BASE=${BENCH_PORT_BASE:-18480}   # another checkout benchmarking on this machine: pick another base
PG_PORT=$((BASE + 7354)); REDIS_PORT=$((BASE + 8301))
VENV=${CALLSCOPE_VENV:-.venv}
ensure_packages initdb:postgresql redis-server:redis-server
ensure_venv "$VENV" test,worker
STATE=$(mktemp -d /tmp/callscope-scaling.XXXXXX); chmod 755 "$STATE"
cleanup() { stop_redis "$REDIS_PORT"; stop_postgres "$STATE/pg"; rm -rf "$STATE"; }
trap cleanup EXIT
start_postgres "$STATE/pg" "$PG_PORT" callscope callscope callscope on
psql=("$(pg_bin)/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
"${psql[@]}" -d postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
stop_postgres "$STATE/pg"
start_postgres "$STATE/pg" "$PG_PORT" callscope callscope callscope on
"${psql[@]}" -d callscope -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
start_redis "$STATE/redis" "$REDIS_PORT" yes

export CALLSCOPE_DATABASE_URL="postgresql://callscope@127.0.0.1:$PG_PORT/callscope"
export SCALING_ADMIN_URL="postgresql://postgres@127.0.0.1:$PG_PORT/callscope"
export CALLSCOPE_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CALLSCOPE_JWT_KEYS="bench:$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
export CALLSCOPE_SECRET_KEY="$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
export CALLSCOPE_STORAGE=local CALLSCOPE_STORAGE_DIR="$STATE/storage" CALLSCOPE_LOG_LEVEL=WARNING
export CALLSCOPE_FETCH_NETWORKS="127.0.0.0/8" HF_HUB_OFFLINE=1 NO_PROXY='*' no_proxy='*'
export CALLSCOPE_RATE_LIMIT_PER_SECOND=1000000 CALLSCOPE_RATE_LIMIT_BURST=1000000
export SCALING_STATE="$STATE"
"$VENV/bin/callscope" --json db migrate >/dev/null
"$VENV/bin/python" tests/bench/scaling.py "$@"
