#!/usr/bin/env bash
# Run the whole test suite on a fresh machine: installs what the tests need, runs the linter
# (ruff) and the type checker (mypy) — either failing fails the run — starts Postgres, Redis and
# an S3-compatible endpoint on loopback, runs pytest, stops everything, and exits with pytest's
# status. Extra arguments go to pytest (e.g. deploy/test.sh -k fetch -x).
# `deploy/test.sh --long [pytest args]` runs the long variants: 10× the fuzz cases and 200 calls
# in flight when the worker is killed (on demand; CI runs the bounded ones).
set -euo pipefail
if [ "${1:-}" = "--long" ]; then
  shift
  export CALLSCOPE_FUZZ_EXAMPLES=${CALLSCOPE_FUZZ_EXAMPLES:-3000} CALLSCOPE_KILL_CALLS=${CALLSCOPE_KILL_CALLS:-200}
fi
cd "$(dirname "$0")/.."
source deploy/lib.sh

PG_PORT=${CALLSCOPE_TEST_PG_PORT:-25433}
REDIS_PORT=${CALLSCOPE_TEST_REDIS_PORT:-26380}
S3_PORT=${CALLSCOPE_TEST_S3_PORT:-25900}
VENV=${CALLSCOPE_VENV:-.venv}

ensure_packages initdb:postgresql redis-server:redis-server espeak-ng:espeak-ng flite:flite festival:festival \
  bwrap:bubblewrap chromium:chromium chromedriver:chromium-driver
# the evaluation corpus's festival voices (tests/eval/voices.py) have no command of their own
ensure_dirs /usr/share/festival/voices/english/kal_diphone:festvox-kallpc16k \
  /usr/share/festival/voices/english/ked_diphone:festvox-kdlpc16k \
  /usr/share/festival/voices/us/cmu_us_slt_arctic_hts:festvox-us-slt-hts
# …and its recorded human speech: the Asterisk prompt sets, one directory per speaker
ensure_dirs /usr/share/asterisk/sounds/en_US_f_Allison:asterisk-core-sounds-en-wav \
  /usr/share/asterisk/sounds/es_MX_f_Allison:asterisk-core-sounds-es-wav \
  /usr/share/asterisk/sounds/fr_CA_f_June:asterisk-core-sounds-fr-wav \
  /usr/share/asterisk/sounds/it_IT_m_Carlo:asterisk-core-sounds-it-wav \
  /usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU:asterisk-core-sounds-ru-wav \
  /usr/share/asterisk/sounds/it_IT_f_Menardi:asterisk-prompt-it-menardi-wav
ensure_venv "$VENV" test,worker
# the web image's install (no worker extra), for tests/api/test_web_install.py
ensure_web_venv "$VENV-web"
export CALLSCOPE_TEST_WEB_PYTHON="$VENV-web/bin/python"

# Lint and types first: seconds, and a finding fails the run like a failing test.
log "ruff check"
"$VENV/bin/ruff" check app workers tests deploy || die "ruff found problems (ruff check --fix fixes some)"
log "mypy"
"$VENV/bin/mypy" || die "mypy found problems"

# Outside the work tree: the postgres user must be able to reach its data directory even when
# the clone lives in a private (0700) temporary folder.
STATE=$(mktemp -d /tmp/callscope-test.XXXXXX)
chmod 755 "$STATE"
cleanup() {
  stop_pidfile "$STATE/s3/moto.pid"
  stop_redis "$REDIS_PORT"
  stop_postgres "$STATE/pg"
  rm -rf "$STATE"
}
trap cleanup EXIT

start_postgres "$STATE/pg" "$PG_PORT" callscope_test callscope callscope off
start_redis "$STATE/redis" "$REDIS_PORT" no
start_moto "$VENV" "$STATE/s3" "$S3_PORT"

export CALLSCOPE_TEST_ADMIN_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
export CALLSCOPE_TEST_DATABASE_URL="postgresql://callscope:callscope@127.0.0.1:$PG_PORT/callscope_test"
export CALLSCOPE_TEST_BROKER_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CALLSCOPE_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
export CALLSCOPE_TEST_STATE="$STATE"
# never let any library reach for a model hub or a proxy during tests
export HF_HUB_OFFLINE=1 NO_PROXY='*' no_proxy='*'
# Selenium must never fetch a browser or driver: the browser tests use Debian's chromium and chromedriver
export SE_OFFLINE=true
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy

set +e
"$VENV/bin/python" -m pytest "$@"
status=$?
set -e
exit $status
