#!/usr/bin/env bash
# Dashboard render benchmark (not part of the test run): starts Postgres on loopback, stores a
# 60-minute call with ~1,000 timeline events and times the call page (tests/bench/dashboard_render.py).
#   tests/bench/dashboard_render.sh [runs=30]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh
PG_PORT=${CALLSCOPE_BENCH_PG_PORT:-25435}
VENV=${CALLSCOPE_VENV:-.venv}
ensure_packages initdb:postgresql
ensure_venv "$VENV" test,worker
STATE=$(mktemp -d /tmp/callscope-bench.XXXXXX); chmod 755 "$STATE"
cleanup() { stop_postgres "$STATE/pg"; rm -rf "$STATE"; }
trap cleanup EXIT
start_postgres "$STATE/pg" "$PG_PORT" callscope callscope callscope off
export CALLSCOPE_DATABASE_URL="postgresql://callscope@127.0.0.1:$PG_PORT/callscope"
# no broker is used by the page; the URL only has to parse (nothing connects to it)
export CALLSCOPE_BROKER_URL="redis://127.0.0.1:1/0" CALLSCOPE_RATE_LIMIT_PER_SECOND=0
export CALLSCOPE_JWT_KEYS="bench:$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
export CALLSCOPE_SECRET_KEY="$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
export CALLSCOPE_STORAGE_DIR="$STATE/storage" CALLSCOPE_LOG_LEVEL=WARNING
"$VENV/bin/python" tests/bench/dashboard_render.py "${1:-30}"
