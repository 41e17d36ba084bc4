#!/usr/bin/env bash
# Set up and run callscope on this machine, no Docker, no cloud account:
#   virtualenv + project, Postgres and Redis on loopback, local-filesystem storage, migrations,
#   a demo workspace/agent/token and a dashboard user (.callscope-dev/demo.json), then web + worker + beat + Flower
#   in the foreground (honcho, from the Procfile); a bundled sample call is submitted and its
#   analysis printed as soon as the API is up. Ctrl-C stops everything.
# Running it again reuses the database, the storage, the secrets and the demo token.
#   deploy/dev.sh --smoke   stops by itself after the sample call (exit 0 when it was computed)
# The API listens on 127.0.0.1:${CALLSCOPE_PORT:-8000}; Flower on 127.0.0.1:${CALLSCOPE_FLOWER_PORT:-5555}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
source deploy/lib.sh

SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
STATE="$ROOT/.callscope-dev"
PORT=${CALLSCOPE_PORT:-8000}
PG_PORT=${CALLSCOPE_DEV_PG_PORT:-25432}
REDIS_PORT=${CALLSCOPE_DEV_REDIS_PORT:-26379}
VENV=${CALLSCOPE_VENV:-.venv}

ensure_packages initdb:postgresql redis-server:redis-server bwrap:bubblewrap
ensure_venv "$VENV" dev,worker
mkdir -p "$STATE/storage" "$STATE/redis"

# Postgres data must be reachable by the `postgres` user: keep it in the work tree when the
# path allows, otherwise in a per-checkout folder under /var/tmp.
PGDATA="$STATE/pg"
if [ "$(id -u)" = 0 ] && ! su postgres -s /bin/sh -c "test -x '$STATE'" 2>/dev/null; then
  PGDATA="/var/tmp/callscope-dev-$(printf %s "$ROOT" | cksum | cut -d' ' -f1)/pg"
  mkdir -p "$(dirname "$PGDATA")"; chmod 755 "$(dirname "$PGDATA")"
fi

# Files holding secrets are born 0600 (umask 077 before the first byte is written) and replace
# the old file by rename, so an older world-readable copy never keeps its mode.
private_file() {
  (umask 077 && cat >"$1.tmp.$$") && mv -f "$1.tmp.$$" "$1"
}

if [ ! -f "$STATE/secrets" ]; then
  log "generating local secrets ($STATE/secrets)"
  {
    echo "CALLSCOPE_JWT_KEYS=dev-1:$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))')"
    echo "CALLSCOPE_SECRET_KEY=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(48))')"
  } | private_file "$STATE/secrets"
fi
chmod 600 "$STATE/secrets" "$STATE/demo.json" 2>/dev/null || true  # state left by older versions

# The process environment, rewritten each run (ports may change); secrets persist. It holds
# the JWT keys and the secret key, so it is private like the secrets file.
{
  cat "$STATE/secrets"
  echo "CALLSCOPE_DATABASE_URL=postgresql://callscope@127.0.0.1:$PG_PORT/callscope"
  echo "CALLSCOPE_BROKER_URL=redis://127.0.0.1:$REDIS_PORT/0"
  echo "CALLSCOPE_STORAGE=local"
  echo "CALLSCOPE_STORAGE_DIR=$STATE/storage"
  echo "CALLSCOPE_PUBLIC_BASE_URL=http://127.0.0.1:$PORT"
  # Development confines the downloader to loopback: no recording URL can reach any other host.
  echo "CALLSCOPE_FETCH_NETWORKS=127.0.0.0/8,::1/128"
  echo "CALLSCOPE_PORT=$PORT"
  echo "CALLSCOPE_WEB_CONCURRENCY=${CALLSCOPE_WEB_CONCURRENCY:-2}"
  echo "CALLSCOPE_BEAT_SCHEDULE=$STATE/beat-schedule"
  echo "FLOWER_UNAUTHENTICATED_API=true"
  echo "PATH=$ROOT/$VENV/bin:$PATH"
  # settings given in the environment win over the defaults above (e.g. CALLSCOPE_LLM_BASE_URL,
  # CALLSCOPE_LLM_API_KEY and CALLSCOPE_LLM_MODEL reach the worker's LLM judge this way)
  env | grep -E '^CALLSCOPE_' | grep -vE '^CALLSCOPE_(PORT|DEV_|VENV)' || true
} | private_file "$STATE/env"
set -a; source "$STATE/env"; set +a

cleanup() {
  local status=$?
  if [ -n "${HONCHO_PID:-}" ] && kill -0 "$HONCHO_PID" 2>/dev/null; then
    kill -TERM "$HONCHO_PID" 2>/dev/null || true
    wait "$HONCHO_PID" 2>/dev/null || true
  fi
  stop_redis "$REDIS_PORT"
  stop_postgres "$PGDATA"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_postgres "$PGDATA" "$PG_PORT" callscope callscope callscope on
start_redis "$STATE/redis" "$REDIS_PORT" yes
"$VENV/bin/callscope" --json db migrate >/dev/null

# The demo tenant: reused while its workspace still exists in this database.
if [ ! -f "$STATE/demo.json" ] || ! "$VENV/bin/python" - "$STATE/demo.json" <<'PY'
import json, sys
import psycopg
from app.settings import Settings
demo = json.load(open(sys.argv[1]))
with psycopg.connect(Settings.from_env().database_url) as conn:
    found = conn.execute("SELECT 1 FROM api_keys WHERE id = %s AND workspace_id = %s AND revoked_at IS NULL",
                         (demo["key_id"], demo["workspace_id"])).fetchone()
sys.exit(0 if found else 1)
PY
then
  log "creating the demo workspace, agent and API token"
  ws=$("$VENV/bin/callscope" --json workspaces create "Demo workspace")
  ws_id=$(echo "$ws" | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  agent=$("$VENV/bin/callscope" --json agents create --workspace "$ws_id" "Demo voice agent")
  token=$("$VENV/bin/callscope" --json tokens issue --workspace "$ws_id")
  "$VENV/bin/python" - "$ws" "$agent" "$token" "$STATE/demo.json" <<'PY'
import json, os, sys
os.umask(0o077)  # the token inside: born private
ws, agent, token = (json.loads(a) for a in sys.argv[1:4])
json.dump({"workspace_id": ws["id"], "agent_id": agent["id"], "key_id": token["key_id"], "token": token["token"]},
          open(sys.argv[4], "w"), indent=2)
PY
fi
"$VENV/bin/python" - "$STATE/demo.json" "http://127.0.0.1:$PORT" <<'PY'
import json, os, sys
os.umask(0o077)
demo = json.load(open(sys.argv[1])); demo["base_url"] = sys.argv[2]
json.dump(demo, open(sys.argv[1], "w"), indent=2)
PY
chmod 600 "$STATE/demo.json"

# The demo dashboard user (an admin of the demo workspace): created once; its password is kept
# in demo.json next to the API token (docs/dashboard.md#sign-in).
DEMO_EMAIL=demo@callscope.local
if ! "$VENV/bin/python" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])).get("dashboard_password") else 1)' "$STATE/demo.json"; then
  log "creating the demo dashboard user $DEMO_EMAIL"
  password=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))')
  ws_id=$("$VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["workspace_id"])' "$STATE/demo.json")
  echo "$password" | "$VENV/bin/callscope" --json users create --workspace "$ws_id" --admin --password-stdin "$DEMO_EMAIL" >/dev/null \
    || echo "$password" | "$VENV/bin/callscope" --json users reset-password --password-stdin "$DEMO_EMAIL" >/dev/null
  "$VENV/bin/python" - "$STATE/demo.json" "$DEMO_EMAIL" "$password" <<'PY'
import json, sys
demo = json.load(open(sys.argv[1])); demo["dashboard_email"], demo["dashboard_password"] = sys.argv[2], sys.argv[3]
json.dump(demo, open(sys.argv[1], "w"), indent=2)
PY
fi

# One worker consumes every queue here (the Procfile's `worker`, no --queues); production runs a
# worker per kind of work (the Procfile's worker-* entries, docs/pipeline.md#queues).
log "starting web (http://127.0.0.1:$PORT), one worker for all queues, beat and Flower (http://127.0.0.1:${CALLSCOPE_FLOWER_PORT:-5555})"
# honcho signals its whole process group when it stops: give it a group of its own.
setsid "$VENV/bin/honcho" start -f Procfile -e "$STATE/env" web worker beat flower &
HONCHO_PID=$!

log "submitting the bundled sample call (deploy/sample/) once the API is ready"
set +e
"$VENV/bin/python" deploy/sample/submit_sample.py "$STATE/demo.json"
sample_status=$?
set -e
read -r dash_email dash_password sample_id < <("$VENV/bin/python" -c '
import json, sys
d = json.load(open(sys.argv[1])); print(d["dashboard_email"], d["dashboard_password"], d.get("sample_call_id", ""))' "$STATE/demo.json")
dashboard="http://127.0.0.1:$PORT/dashboard/"
[ -n "$sample_id" ] && dashboard="http://127.0.0.1:$PORT/dashboard/calls/$sample_id"
cat >&2 <<EOF

  callscope is running.
  Dashboard: $dashboard
             sign in as $dash_email / $dash_password   (the sample call's timeline, audio and metrics)
  API: http://127.0.0.1:$PORT/api/public/v1   Flower: http://127.0.0.1:${CALLSCOPE_FLOWER_PORT:-5555}
  Demo ids and token:    $STATE/demo.json
  Try:  TOKEN=\$(python3 -c 'import json; print(json.load(open("$STATE/demo.json"))["token"])')
        curl -s -H "Authorization: Bearer \$TOKEN" http://127.0.0.1:$PORT/api/public/v1/calls | python3 -m json.tool

EOF
if [ "$SMOKE" = 1 ]; then
  exit $sample_status
fi
log "press Ctrl-C to stop"
wait "$HONCHO_PID"
