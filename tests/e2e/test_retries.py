"""The retry budget is CALLSCOPE_FETCH_RETRIES, whatever its value, through a real worker
(docs/pipeline.md#failures-and-retries). Celery's own cap (max_retries = 5 on the task class)
once fired first: with 8 configured, the sixth retry turned a recording server that was only
busy into `internal_error`."""
from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import call_body
from tests.e2e.conftest import _stop, isolated_stack, start_worker, wait_for_final
from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL

pytestmark = [pytest.mark.services, pytest.mark.e2e]
RETRIES = 8


def test_eight_retries_are_eight_and_a_flaky_server_ends_computed(e2e_env, tmp_path):
    with RecordingServer() as recordings:
        recordings.add("busy.wav", wav_bytes(seconds=2.0))
        recordings.flaky["busy.wav"] = RETRIES - 1  # answers on the 8th try: beyond Celery's old cap
        recordings.add("down.wav", wav_bytes(seconds=2.0))
        recordings.flaky["down.wav"] = 10_000
        stack = isolated_stack(e2e_env, "retries", 9, CALLSCOPE_FETCH_RETRIES=str(RETRIES),
                               CALLSCOPE_RETRY_BACKOFF_SECONDS="0.02", CALLSCOPE_TRANSCRIBER="none")
        client, tenant = stack.app.test_client(), stack.tenant

        def submit(name: str) -> int:
            response = client.post("/api/public/v1/calls", headers=tenant.headers, json=call_body(
                tenant, call_identifier=f"r-{uuid.uuid4().hex[:10]}", transcript=CALL,
                recording_url=recordings.url(f"/flaky/{name}")))
            assert response.status_code == 202
            return response.get_json()["id"]

        worker = start_worker(stack.env, tmp_path, "retries")
        try:
            busy, down = submit("busy.wav"), submit("down.wav")
            busy_call = wait_for_final(client, tenant, busy, timeout=120)
            down_call = wait_for_final(client, tenant, down, timeout=120)
        finally:
            _stop(worker)
        tries = {name: sum(1 for path, _ in recordings.requests if path == f"/flaky/{name}")
                 for name in ("busy.wav", "down.wav")}
    assert busy_call["analysis_status"] == "computed", busy_call["failure"]
    assert busy_call["recording"]["format"] == "wav"
    assert (down_call["analysis_status"], down_call["failure"]["code"]) == ("failed", "recording_unreachable")
    assert f"after {RETRIES} retries" in down_call["failure"]["message"]
    assert tries == {"busy.wav": RETRIES, "down.wav": RETRIES + 1}
