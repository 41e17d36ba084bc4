"""A transcript-only call is not held up by a backlog of recordings (docs/pipeline.md#queues):
with a worker process per kind, as the Procfile (and the Kubernetes manifests) run them, a
backlog of long recordings keeps the audio workers busy and more queued behind them; a
transcript-only call submitted after it reaches `computed` while none of the backlog has —
read from the status history Postgres keeps, not from a clock."""
from __future__ import annotations

import os
import signal
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import redis

from app.queue import AUDIO_QUEUE
from tests.api.conftest import call_body
from tests.e2e.conftest import isolated_stack, wait_for_final
from tests.e2e.test_queues import procfile_worker, wait_until
from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL

pytestmark = [pytest.mark.services, pytest.mark.e2e]
PROFILES = ("worker-control", "worker-audio", "worker-transcription", "worker-llm", "worker-judge")
BACKLOG = 6  # two downloading on worker-audio's two processes, four queued behind them
SLOW_SECONDS = 30  # each recording's download: the backlog cannot end before it


def test_a_transcript_only_call_is_computed_while_a_backlog_of_recordings_is_not(e2e_env, tmp_path):
    stack = isolated_stack(e2e_env, "backlog", 13, CALLSCOPE_FETCH_READ_TIMEOUT_SECONDS="60",
                           CALLSCOPE_STALE_AFTER_SECONDS="600")
    env, client, tenant = stack.env, stack.app.test_client(), stack.tenant
    broker = redis.Redis.from_url(env["CALLSCOPE_BROKER_URL"])
    with ThreadPoolExecutor(len(PROFILES)) as pool:  # start together: each loads the worker code
        workers = dict(zip(PROFILES, pool.map(lambda name: procfile_worker(name, env, tmp_path), PROFILES)))
    try:
        with RecordingServer() as recordings:
            recordings.slow_seconds = SLOW_SECONDS
            recordings.add("long.wav", wav_bytes(20.0, rate=8000))
            backlog = []
            for _ in range(BACKLOG):  # recording only: fetched, then transcribed
                body = call_body(tenant, call_identifier=f"long-{uuid.uuid4().hex[:10]}", transcript=None,
                                 recording_url=recordings.url("/slowfiles/long.wav"))
                response = client.post("/api/public/v1/calls", json=body, headers=tenant.headers)
                assert response.status_code == 202
                backlog.append(response.get_json()["id"])

            def backlog_being_worked_and_more_queued() -> bool:
                """both audio processes download a recording and the other fetches wait in the audio queue"""
                downloads = sum(1 for path, _ in recordings.requests if path.startswith("/slowfiles/"))
                return downloads == 2 and broker.llen(AUDIO_QUEUE) == BACKLOG - 2

            wait_until(backlog_being_worked_and_more_queued)
            body = call_body(tenant, call_identifier=f"quick-{uuid.uuid4().hex[:10]}", transcript=CALL)
            response = client.post("/api/public/v1/calls", json=body, headers=tenant.headers)
            assert response.status_code == 202
            quick = wait_for_final(client, tenant, response.get_json()["id"])
            with psycopg.connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
                rows = conn.execute(
                    "SELECT h.call_id, h.field, h.to_status FROM call_status_history h"
                    " WHERE h.call_id = ANY(%s) AND h.at <= (SELECT max(at) FROM call_status_history"
                    "  WHERE call_id = %s AND field = 'analysis_status' AND to_status = 'computed')"
                    " ORDER BY h.id", (backlog, quick["id"])).fetchall()
                fetch_started = {row[0] for row in conn.execute(
                    "SELECT call_id FROM stage_runs WHERE stage = 'calls.fetch_recording' AND call_id = ANY(%s)"
                    " AND started_at <= (SELECT max(at) FROM call_status_history WHERE call_id = %s"
                    "  AND field = 'analysis_status' AND to_status = 'computed')", (backlog, quick["id"]))}
            queued_after = broker.llen(AUDIO_QUEUE)
    finally:
        for proc in workers.values():  # the downloads in flight need not finish: no warm shutdown
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        stack.app.extensions["callscope"].pool.close()
    assert quick["analysis_status"] == "computed", quick
    assert all(m["status"] in ("computed", "skipped") for m in quick["standard_metrics"])
    # At the moment the quick call was computed, every backlog call was still pending …
    status_then = {call_id: to for call_id, field, to in rows if field == "analysis_status"}
    assert status_then == {call_id: "pending" for call_id in backlog}, rows
    # … while the backlog was being worked: two fetches had started, the others still waited.
    assert len(fetch_started) == 2 and queued_after == BACKLOG - 2, (fetch_started, queued_after)
