"""SIGKILL the worker while calls are in flight (docs/pipeline.md#delivery-guarantees): no accepted call is lost, none is
analysed twice. Runs its own database, broker index, worker and beat so that only the killed
worker holds the in-flight tasks."""
from __future__ import annotations

import os
import signal
import sys
import time
import uuid

import psycopg
import pytest

from tests.api.conftest import call_body
from tests.e2e.conftest import _start, _stop, isolated_stack, start_worker
from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer

pytestmark = [pytest.mark.services, pytest.mark.e2e]
CALLS = int(os.environ.get("CALLSCOPE_KILL_CALLS", "50"))  # deploy/test.sh --long: 200


def test_sigkill_with_calls_in_flight_loses_and_duplicates_nothing(e2e_env, tmp_path):
    stack = isolated_stack(e2e_env, "kill", 3, CALLSCOPE_STALE_AFTER_SECONDS="3",
                           CALLSCOPE_SWEEP_INTERVAL_SECONDS="1")
    env, app, tenant, client = stack.env, stack.app, stack.tenant, stack.app.test_client()
    celery = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]
    beat = _start(celery + ["beat", "-s", str(tmp_path / "beat-schedule")], env, tmp_path / "beat.log", "beat")
    worker = start_worker(env, tmp_path, "victim")
    try:
        with RecordingServer() as recordings:
            recordings.slow_seconds = 1.5  # downloads are in flight when the kill lands
            recordings.add("call.wav", wav_bytes(seconds=2.0, rate=8000))
            accepted = []
            for _ in range(CALLS):
                body = call_body(tenant, call_identifier=f"kill-{uuid.uuid4().hex[:10]}",
                                 recording_url=recordings.url("/slowfiles/call.wav"))
                response = client.post("/api/public/v1/calls", json=body, headers=tenant.headers)
                assert response.status_code == 202
                accepted.append(response.get_json()["id"])
            time.sleep(2.0)
            with psycopg.connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
                in_flight = conn.execute("SELECT count(*) FROM calls WHERE analysis_status = 'pending'").fetchone()[0]
            os.killpg(worker.pid, signal.SIGKILL)  # the main process and its pool, no goodbye
            worker.wait(timeout=10)
            assert in_flight > 0, "the kill must land while calls are still pending"
            worker = start_worker(env, tmp_path, "restarted")
            # two pool processes, each call ≥ 1.5 s of download: the backlog takes ~1 s per call
            deadline = time.monotonic() + max(180, 2.5 * CALLS)
            while time.monotonic() < deadline:
                with psycopg.connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
                    pending = conn.execute("SELECT count(*) FROM calls WHERE analysis_status = 'pending'").fetchone()[0]
                if pending == 0:
                    break
                time.sleep(0.5)
        with psycopg.connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
            statuses = dict(conn.execute("SELECT analysis_status, count(*) FROM calls GROUP BY 1").fetchall())
            final = {row[0] for row in conn.execute(
                "SELECT id FROM calls WHERE analysis_status IN ('computed', 'failed')")}
            # a stage that ran its work twice would write a status transition (and its results,
            # which only ever move pending → terminal in the same transaction) a second time
            duplicated = {row[0] for row in conn.execute(
                "SELECT call_id FROM call_status_history GROUP BY call_id, field, from_status, to_status"
                " HAVING count(*) > 1")}
            results = conn.execute(
                "SELECT count(*) FILTER (WHERE status = 'pending'), count(DISTINCT call_id) FROM metric_results"
            ).fetchone()
        ended = len(final & set(accepted))
        lost = len(set(accepted) - final)
        print(f"\nSIGKILL e2e: {CALLS} accepted (202), {in_flight} pending at the kill; "
              f"ended {ended}, lost {lost}, duplicated {len(duplicated)}; final statuses {statuses}")
        assert (lost, len(duplicated)) == (0, 0)
        assert statuses == {"computed": CALLS}, statuses          # none failed either
        assert results == (0, CALLS)
    finally:
        _stop(beat)
        _stop(worker)
        app.extensions["callscope"].pool.close()

