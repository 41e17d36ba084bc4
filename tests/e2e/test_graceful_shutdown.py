"""SIGTERM to a worker in the middle of a long stage, as the kubelet sends it to a pod's main
process on a scale-down, a rollout or a node drain (docs/kubernetes.md#graceful-shutdown): Celery's
warm shutdown finishes the running stage, gives the tasks it had prefetched back to the queue at
once, and exits by itself; a second worker takes them. Every call still ends exactly once — one
run of each stage, one set of results, one final transition — and none is lost."""
from __future__ import annotations

import json
import os
import signal
import sys
import uuid

import psycopg
import pytest
import redis

from app.queue import AUDIO_QUEUE
from tests.api.conftest import call_body
from tests.e2e.conftest import _start, _stop, isolated_stack, wait_for_final
from tests.e2e.test_queues import wait_until
from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer
from workers.pipeline import FETCH_RECORDING

pytestmark = [pytest.mark.services, pytest.mark.e2e]
CALLS = 3
SLOW_SECONDS = 4  # how long each download stalls: the stage the SIGTERM lands in


def audio_worker(env: dict, logs, name: str, prefetch: int):
    """A worker of the audio kind only, so that it alone holds the downloads."""
    return _start([sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--queues", AUDIO_QUEUE,
                   "-c", "1", "--prefetch-multiplier", str(prefetch), "-n", f"{name}@%h", "--without-mingle",
                   "--without-gossip"], env, logs / f"{name}.log", "ready.")


def queued_fetches(broker: redis.Redis) -> set[int]:
    """The call ids of the fetch tasks waiting in the audio list (Celery's message headers)."""
    headers = [json.loads(raw)["headers"] for raw in broker.lrange(AUDIO_QUEUE, 0, -1)]
    return {int(h["argsrepr"].strip("(),[]")) for h in headers if h["task"] == FETCH_RECORDING}


def test_sigterm_mid_stage_finishes_it_returns_the_prefetched_tasks_and_every_call_ends_once(e2e_env, tmp_path):
    stack = isolated_stack(e2e_env, "sigterm", 11, CALLSCOPE_FETCH_READ_TIMEOUT_SECONDS="30",
                           CALLSCOPE_STALE_AFTER_SECONDS="600")
    env, client, tenant = stack.env, stack.app.test_client(), stack.tenant
    broker = redis.Redis.from_url(env["CALLSCOPE_BROKER_URL"])
    # every queue but the audio one, so the SIGTERMed worker is the only one holding downloads
    rest = _start([sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "--queues",
                   "control,calls,transcription,llm_judges,code_judges", "-c", "2", "-n", "rest@%h",
                   "--without-mingle", "--without-gossip"], env, tmp_path / "rest.log", "ready.")
    # one process, prefetching up to 4: it runs one download and holds the other calls' fetches
    victim = audio_worker(env, tmp_path, "victim", prefetch=4)
    successor = None
    try:
        with RecordingServer() as recordings:
            recordings.slow_seconds = SLOW_SECONDS
            calls = []
            for i in range(CALLS):
                recordings.add(f"call-{i}.wav", wav_bytes(2.0))
                body = call_body(tenant, call_identifier=f"term-{uuid.uuid4().hex[:10]}",
                                 recording_url=recordings.url(f"/slowfiles/call-{i}.wav"))
                response = client.post("/api/public/v1/calls", json=body, headers=tenant.headers)
                assert response.status_code == 202
                calls.append(response.get_json()["id"])

            def one_download_running_and_the_rest_prefetched() -> bool:
                """the victim downloads one recording and holds every other fetch (none left in Redis's list)"""
                started = [p for p, _ in recordings.requests if p.startswith("/slowfiles/")]
                return len(started) == 1 and not queued_fetches(broker) and broker.llen(AUDIO_QUEUE) == 0

            wait_until(one_download_running_and_the_rest_prefetched)
            running = calls[int(recordings.requests[0][0].rsplit("-", 1)[1].split(".")[0])]
            os.kill(victim.pid, signal.SIGTERM)  # the main process only, as the kubelet does
            assert victim.wait(timeout=SLOW_SECONDS + 30) == 0  # warm shutdown: it left by itself
            with psycopg.connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
                fetched = {row[0] for row in conn.execute(
                    "SELECT call_id FROM call_status_history WHERE field = 'audio_branch' AND to_status = 'fetched'")}
            # the running stage was finished before the exit, not abandoned
            assert fetched == {running}
            # the prefetched fetches are back in the queue now, not after the visibility timeout
            assert queued_fetches(broker) == set(calls) - {running}
            successor = audio_worker(env, tmp_path, "successor", prefetch=1)
            final = [wait_for_final(client, tenant, call_id, timeout=90) for call_id in calls]
            downloads = [p for p, _ in recordings.requests if p.startswith("/slowfiles/")]
    finally:
        for proc in (rest, victim, successor):
            if proc is not None and proc.poll() is None:
                _stop(proc)
        stack.app.extensions["callscope"].pool.close()
    assert [c["analysis_status"] for c in final] == ["computed"] * CALLS, final
    assert sorted(downloads) == sorted(f"/slowfiles/call-{i}.wav" for i in range(CALLS))  # one download each
    with psycopg.connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
        fetch_runs = dict(conn.execute("SELECT call_id, deliveries FROM stage_runs WHERE stage = %s",
                                       (FETCH_RECORDING,)).fetchall())
        repeated = conn.execute("SELECT call_id, field, to_status, count(*) FROM call_status_history"
                                " GROUP BY 1, 2, 3 HAVING count(*) > 1").fetchall()
        results = conn.execute("SELECT count(*) FILTER (WHERE status = 'pending'), count(*),"
                               " count(DISTINCT (call_id, metric_key)) FROM metric_results").fetchone()
    assert fetch_runs == {call_id: 1 for call_id in calls}  # no stage started twice
    assert repeated == []  # every transition once, the final `computed` included
    assert results[0] == 0 and results[1] == results[2]  # one result per metric, none left pending
