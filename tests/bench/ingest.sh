#!/usr/bin/env bash
# Ingest throughput benchmark (not part of the test run). Starts Postgres and Redis on loopback,
# serves the real API under gunicorn, loads POST /calls (20-turn transcript) with wrk from
# loopback for a bounded time, then the same against a bare INSERT + LPUSH endpoint (the
# ceiling), in BENCH_ROUNDS rounds (default 1). Prints accepted calls/s, p50/p99 latency, the
# server CPU per request, each round's same-run ratio, and the outbox relay's wait (commit to
# publish) under load and idle. BENCH_PROFILE=DIR samples the API workers with py-spy
# (GIL-holding samples; `pip install py-spy` into the venv first). BENCH_PORT_BASE moves the ports.
#   tests/bench/ingest.sh [seconds=15] [connections=16] [gunicorn workers=4]
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh
DURATION=${1:-15}; CONNS=${2:-16}; WORKERS=${3:-4}; THREADS=${WRK_THREADS:-2}
# ports: override with BENCH_PORT_BASE when another checkout benchmarks on the same machine
BASE=${BENCH_PORT_BASE:-18080}
PG_PORT=$((BASE + 7354)); REDIS_PORT=$((BASE + 8301)); API_PORT=$BASE; CEIL_PORT=$((BASE + 1))
VENV=${CALLSCOPE_VENV:-.venv}
ensure_packages initdb:postgresql redis-server:redis-server wrk:wrk
ensure_venv "$VENV" test,worker
STATE=$(mktemp -d /tmp/callscope-bench.XXXXXX); chmod 755 "$STATE"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
            stop_redis "$REDIS_PORT"; stop_postgres "$STATE/pg"; rm -rf "$STATE"; }
trap cleanup EXIT
start_postgres "$STATE/pg" "$PG_PORT" callscope callscope callscope on   # durable: fsync on
start_redis "$STATE/redis" "$REDIS_PORT" yes
export CALLSCOPE_DATABASE_URL="postgresql://callscope@127.0.0.1:$PG_PORT/callscope"
export CALLSCOPE_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CALLSCOPE_JWT_KEYS="bench:$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
export CALLSCOPE_SECRET_KEY="$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')"
export CALLSCOPE_STORAGE_DIR="$STATE/storage" CALLSCOPE_LOG_LEVEL=WARNING CALLSCOPE_DB_POOL_MAX=4
# the limiter stays on (its Redis round trip is part of the cost) but never binds here
export CALLSCOPE_RATE_LIMIT_PER_SECOND=1000000 CALLSCOPE_RATE_LIMIT_BURST=1000000
"$VENV/bin/callscope" --json db migrate >/dev/null
ws=$("$VENV/bin/callscope" --json workspaces create bench | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
agent=$("$VENV/bin/callscope" --json agents create --workspace "$ws" bench | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export BENCH_TOKEN=$("$VENV/bin/callscope" --json tokens issue --workspace "$ws" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token"])')
export BENCH_BODY="$STATE/body.json" BENCH_RUN=$$
"$VENV/bin/python" - "$ws" "$agent" >"$BENCH_BODY" <<'PY'
import json, sys
turns, t = [], 0.5
for i in range(20):
    role = "AI Assistant" if i % 2 == 0 else "User"
    text = ("Thanks for calling, I can help you reschedule that appointment to another day this week."
            if role == "AI Assistant" else "Yes please, I would like Thursday morning if that is possible.")
    turns.append({"role": role, "content": text, "start_time": round(t, 2), "end_time": round(t + 4.2, 2)})
    t += 5.0
print(json.dumps({"call_identifier": "__CALL_ID__", "agent_id": int(sys.argv[2]), "client_id": int(sys.argv[1]),
                  "recording_url": "https://recordings.example.com/calls/__CALL_ID__.wav", "transcript": turns,
                  "call_direction": "inbound", "metadata": {"campaign": "bench"}}))
PY
echo "body: $(wc -c <"$BENCH_BODY") bytes, 20 turns; gunicorn workers: $WORKERS; wrk: 2 threads, $CONNS connections, ${DURATION}s"

# the web's production settings file (multi-process Prometheus metrics, one directory for all workers);
# -w and -b on the command line win over it. Each web worker runs its outbox relay thread.
export PROMETHEUS_MULTIPROC_DIR="$STATE/prometheus"
"$VENV/bin/gunicorn" -c deploy/gunicorn.conf.py -w "$WORKERS" ${GUNICORN_ARGS:-} -b "127.0.0.1:$API_PORT" --log-level warning "app:create_app()" &
API_PID=$!; PIDS+=($API_PID)
env -u PROMETHEUS_MULTIPROC_DIR "$VENV/bin/gunicorn" -w "$WORKERS" ${GUNICORN_ARGS:-} -b "127.0.0.1:$CEIL_PORT" --log-level warning --chdir tests/bench "ceiling_app:create_app()" &
CEIL_PID=$!; PIDS+=($CEIL_PID)
for port in $API_PORT $CEIL_PORT; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

# CPU seconds used so far by a gunicorn instance (master and workers), by Postgres and by Redis:
# on a machine shared with other jobs the throughput of a run swings with their load, the CPU
# each request costs the server side much less.
cpu() {  # gunicorn-master-pid — this run's own Postgres and Redis only (other jobs run theirs)
  "$VENV/bin/python" - "$1" "$(head -n 1 "$STATE/pg/postmaster.pid")" "$(cat "$STATE/redis/redis.pid")" <<'PY'
import os, sys
tick, stats = os.sysconf("SC_CLK_TCK"), {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    stats[int(pid)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
def tree(root):  # the process and its children (gunicorn workers, Postgres backends)
    return sum(cpu for pid, (ppid, cpu) in stats.items() if pid == root or ppid == root)
print(*(tree(int(root)) for root in sys.argv[1:]))
PY
}
run() {  # slug label url [gunicorn-master-pid]
  [ -n "${4:-}" ] && cpu "$4" >"$STATE/$1.cpu0"
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s tests/bench/post_call.lua "$3" >"$STATE/$1.txt"
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/ {print $2}' "$STATE/$1.txt")
  p50=$(awk '$1=="50%" {print $2}' "$STATE/$1.txt"); p99=$(awk '$1=="99%" {print $2}' "$STATE/$1.txt")
  errors=$(awk '/Non-2xx/ {print $5}' "$STATE/$1.txt"); errors=${errors:-0}
  printf '%-28s %10s req/s   p50 %-9s p99 %-9s non-2xx %s\n' "$2" "$rps" "$p50" "$p99" "$errors"
  echo "$rps" >"$STATE/$1.rps"
  if [ -n "${4:-}" ]; then
    cpu "$4" >"$STATE/$1.cpu1"
    "$VENV/bin/python" - "$STATE/$1" "$(awk '/requests in/ {print $1}' "$STATE/$1.txt")" <<'PY' | tee "$STATE/$1.cpuline"
import sys
before = [float(x) for x in open(sys.argv[1] + ".cpu0").read().split()]
after = [float(x) for x in open(sys.argv[1] + ".cpu1").read().split()]
n = int(sys.argv[2])
app, pg, rd = (1000 * (a - b) / n for a, b in zip(after, before))
print(f"    server CPU per request: {app + pg + rd:.2f} ms (web {app:.2f}, postgres {pg:.2f}, redis {rd:.2f})")
open(sys.argv[1] + ".cpureq", "w").write(str(app + pg + rd))
PY
  fi
}
# Relay wait (commit → publish) from the web's own histogram: mean and the bucket holding the p99.
relay_wait() {  # label
  curl -s "http://127.0.0.1:$API_PORT/metrics" | "$VENV/bin/python" -c "
import sys
from prometheus_client.parser import text_string_to_metric_families
buckets, total, count = [], 0.0, 0.0
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        if s.name == 'callscope_outbox_wait_seconds_bucket' and s.labels.get('task') == 'calls.analyze':
            buckets.append((float(s.labels['le']), s.value))
        elif s.name == 'callscope_outbox_wait_seconds_sum' and s.labels.get('task') == 'calls.analyze':
            total = s.value
        elif s.name == 'callscope_outbox_wait_seconds_count' and s.labels.get('task') == 'calls.analyze':
            count = s.value
print(' '.join(f'{le!r}:{n:.0f}' for le, n in sorted(buckets)), total, count)" >"$STATE/wait-$1.txt"
}
report_wait() {  # before-slug after-slug label
  "$VENV/bin/python" - "$STATE/wait-$1.txt" "$STATE/wait-$2.txt" "$3" <<'PY'
import sys
def read(path):
    *buckets, total, count = open(path).read().split()
    return {float(b.split(':')[0]): float(b.split(':')[1]) for b in buckets}, float(total), float(count)
(b0, s0, c0), (b1, s1, c1), label = read(sys.argv[1]), read(sys.argv[2]), sys.argv[3]
n = c1 - c0
if n <= 0:
    print(f"relay wait ({label}): no task relayed"); sys.exit()
p99 = next(le for le in sorted(b1) if b1[le] - b0.get(le, 0) >= 0.99 * n)
print(f"relay wait, commit to publish ({label}): {n:.0f} tasks, mean {1000 * (s1 - s0) / n:.1f} ms, p99 <= {1000 * p99:.0f} ms")
PY
}
outbox_empty() {
  for _ in $(seq 200); do
    [ "$("$VENV/bin/python" -c "import psycopg; print(psycopg.connect('$CALLSCOPE_DATABASE_URL').execute('select count(*) from task_outbox').fetchone()[0])")" = 0 ] && return 0
    sleep 0.1
  done
  return 1
}
# Warm both up first (each worker's first requests compile regexes, prepare statements, fill
# caches), so that a short run measures the steady state of both alike.
export BENCH_RUN="$$-warm"
for url in "http://127.0.0.1:$API_PORT/api/public/v1/calls" "http://127.0.0.1:$CEIL_PORT/ceiling"; do
  wrk -t"$THREADS" -c"$CONNS" -d2s -s tests/bench/post_call.lua "$url" >/dev/null
done
if [ -n "${BENCH_PROFILE:-}" ]; then  # sample every API worker with py-spy during the API run
  mkdir -p "$BENCH_PROFILE"
  for pid in $(pgrep -P "$API_PID"); do
    "$VENV/bin/py-spy" record --gil -r 200 -f raw -d "$DURATION" -p "$pid" -o "$BENCH_PROFILE/api-$pid.txt" >/dev/null 2>&1 &
  done
fi
# BENCH_ROUNDS rounds of (API, ceiling) back to back: each round's ratio is a same-run ratio.
relay_wait start
for round in $(seq "${BENCH_ROUNDS:-1}"); do
  export BENCH_RUN="$$-r$round"
  run api "POST /calls (callscope)" "http://127.0.0.1:$API_PORT/api/public/v1/calls" "$API_PID"
  run ceiling "ceiling (INSERT+LPUSH)" "http://127.0.0.1:$CEIL_PORT/ceiling" "$CEIL_PID"
  "$VENV/bin/python" -c "
a=float(open('$STATE/api.rps').read()); c=float(open('$STATE/ceiling.rps').read())
ca=float(open('$STATE/api.cpureq').read()); cc=float(open('$STATE/ceiling.cpureq').read())
print(f'round $round: ratio to ceiling: {a/c:.2f} (throughput); {cc/ca:.2f} (server CPU per request, ceiling / callscope)')"
done
outbox_empty || echo "the outbox did not drain within 20 s"
relay_wait loaded
report_wait start loaded "under load"
accepted=$("$VENV/bin/python" -c "import psycopg; print(psycopg.connect('$CALLSCOPE_DATABASE_URL').execute('select count(*) from calls').fetchone()[0])")
queued=$(redis-cli -p "$REDIS_PORT" llen control)
echo "calls stored in Postgres: $accepted; analysis tasks published to the broker queue: $queued"
# idle: one call at a time, 0.2 s apart — each wakes its process's relay
export BENCH_RUN="$$-idle"
for i in $(seq 50); do
  sed "s/__CALL_ID__/idle-$$-$i/g" "$BENCH_BODY" | curl -s -o /dev/null -X POST -H "Content-Type: application/json" \
    -H "Authorization: Bearer $BENCH_TOKEN" --data-binary @- "http://127.0.0.1:$API_PORT/api/public/v1/calls"
  sleep 0.2
done
outbox_empty || true
relay_wait idle
report_wait loaded idle "idle, one call every 0.2 s"
