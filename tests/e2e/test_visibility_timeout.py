"""A stage that outlives the broker's visibility timeout is delivered again while it still runs
(real Redis, real worker with two pool processes): the call still ends computed with every
result and every status transition written once."""
from __future__ import annotations

import sys
import uuid
from collections import Counter

import psycopg
import pytest

from tests.api.conftest import call_body
from tests.e2e.conftest import _start, _stop, isolated_stack, wait_for_final
from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL
from workers.pipeline import FETCH_RECORDING

pytestmark = [pytest.mark.services, pytest.mark.e2e]
SLOW_SECONDS = 8  # the download's length; the visibility timeout is 3 s


def test_a_stage_redelivered_by_the_visibility_timeout_writes_once(e2e_env, tmp_path):
    stack = isolated_stack(e2e_env, "visibility", 6, CALLSCOPE_FETCH_READ_TIMEOUT_SECONDS="30",
                           CALLSCOPE_MAX_STAGE_DELIVERIES="20", CALLSCOPE_STALE_AFTER_SECONDS="600")
    client, tenant = stack.app.test_client(), stack.tenant
    worker = _start([sys.executable, "-m", "celery", "-A", "tests.e2e.short_visibility_app", "worker",
                     "-c", "2", "-n", "visibility@%h", "--without-mingle", "--without-gossip"],
                    stack.env, tmp_path / "worker.log", "ready.")
    try:
        with RecordingServer() as recordings:
            recordings.slow_seconds = SLOW_SECONDS
            recordings.add("slow.wav", wav_bytes(2.0))
            body = call_body(tenant, call_identifier=f"v-{uuid.uuid4().hex[:10]}", transcript=CALL,
                             recording_url=recordings.url("/slowfiles/slow.wav"))
            response = client.post("/api/public/v1/calls", json=body, headers=tenant.headers)
            assert response.status_code == 202
            call = wait_for_final(client, tenant, response.get_json()["id"], timeout=120)
            downloads = sum(1 for path, _ in recordings.requests if path.startswith("/slowfiles/"))
    finally:
        _stop(worker)
    assert call["analysis_status"] == "computed", call
    with psycopg.connect(stack.env["CALLSCOPE_DATABASE_URL"]) as conn:
        deliveries = conn.execute("SELECT deliveries FROM stage_runs WHERE call_id = %s AND stage = %s",
                                  (call["id"], FETCH_RECORDING)).fetchone()[0]
        results = conn.execute("SELECT count(*) FROM metric_results WHERE call_id = %s", (call["id"],)).fetchone()[0]
    transitions = Counter((h["field"], h["to"]) for h in call["status_history"])
    print(f"\nfetch delivered {deliveries} times ({downloads} downloads started); "
          f"{sum(transitions.values())} transitions, each once; {results} results")
    assert deliveries >= 2 and downloads >= 2  # Redis really delivered the running stage again
    assert set(transitions.values()) == {1}, transitions
    assert ("audio_branch", "fetched") in transitions and ("analysis_status", "computed") in transitions
    assert all(m["status"] in ("computed", "skipped") for m in call["standard_metrics"])
