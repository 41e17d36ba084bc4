"""A provider is down while calls flow through a real worker, and each call still ends, none lost:
- the LLM provider answers 503 to everything: `failed` with `metric_failed`, the LLM results
  `failed` `llm_unavailable` after the retries, every other metric computed;
- the transcription endpoint answers 503 to everything: the audio stage retries, then analyses
  the recording without it — turn-taking metrics computed from the audio, what needed the
  transcript `failed` `transcription_unavailable` — and when the endpoint is back, the next
  calls are transcribed (no restart)."""
from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import call_body
from tests.e2e.conftest import _stop, isolated_stack, start_worker, wait_for_final
from tests.support import callgen
from tests.support.fake_asr import FakeTranscriptionServer
from tests.support.fake_llm import FakeLLM
from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL

pytestmark = [pytest.mark.services, pytest.mark.e2e]
CALLS = 10


def test_llm_provider_outage_fails_llm_metrics_and_loses_no_call(e2e_env, tmp_path):
    with FakeLLM(status_sequence=[503] * 1000) as down:
        stack = isolated_stack(e2e_env, "llm_outage", 7, CALLSCOPE_LLM_BASE_URL=down.base_url,
                               CALLSCOPE_LLM_MAX_RETRIES="2", CALLSCOPE_RETRY_BACKOFF_SECONDS="0.1")
        client, tenant = stack.app.test_client(), stack.tenant
        metric = client.post("/api/public/v1/metrics", headers=tenant.headers, json={
            "name": "Polite", "kind": "llm", "result_type": "boolean", "prompt": "Polite?", "critical": True})
        assert metric.status_code == 201
        worker = start_worker(stack.env, tmp_path, "llm-outage")
        try:
            ids = []
            for _ in range(CALLS):
                body = call_body(tenant, call_identifier=f"o-{uuid.uuid4().hex[:10]}", transcript=CALL,
                                 metric_ids=[metric.get_json()["id"]])
                response = client.post("/api/public/v1/calls", json=body, headers=tenant.headers)
                assert response.status_code == 202
                ids.append(response.get_json()["id"])
            calls = [wait_for_final(client, tenant, call_id, timeout=90) for call_id in ids]
        finally:
            _stop(worker)
        requests_made = len(down.requests)
    for call in calls:
        assert (call["analysis_status"], call["failure"]["code"], call["call_success"]) == (
            "failed", "metric_failed", False), call["failure"]
        judged = call["custom_metrics"][0]
        assert (judged["status"], judged["error"]["code"]) == ("failed", "llm_unavailable")
        assert all(m["status"] in ("computed", "skipped") for m in call["standard_metrics"])
    assert requests_made == CALLS * 3  # the first try and 2 retries per call, then given up
    print(f"\nLLM provider down: {CALLS}/{CALLS} calls ended (failed, llm_unavailable), "
          f"{requests_made} requests, none lost")


@pytest.mark.skipif(not callgen.espeak_available(), reason="espeak-ng is installed by deploy/test.sh")
def test_transcriber_outage_keeps_the_audio_metrics_and_loses_no_call(e2e_env, tmp_path):
    conversation = callgen.wav_bytes(callgen.render(callgen.build_lines(callgen.ALTERNATE_STEPS)))
    with FakeTranscriptionServer(status=503) as asr, RecordingServer() as recordings:
        stack = isolated_stack(e2e_env, "asr_outage", 8, CALLSCOPE_TRANSCRIBER="openai",
                               CALLSCOPE_ASR_BASE_URL=asr.base_url, CALLSCOPE_FETCH_RETRIES="2",
                               CALLSCOPE_RETRY_BACKOFF_SECONDS="0.1")
        client, tenant = stack.app.test_client(), stack.tenant
        metric = client.post("/api/public/v1/metrics", headers=tenant.headers, json={
            "name": "Greets the caller", "kind": "llm", "result_type": "boolean", "prompt": "Greets?"})
        assert metric.status_code == 201

        def submit() -> int:
            response = client.post("/api/public/v1/calls", headers=tenant.headers, json=call_body(
                tenant, call_identifier=f"a-{uuid.uuid4().hex[:10]}", transcript=None,
                recording_url=recordings.add(f"{uuid.uuid4().hex}.wav", conversation),
                metric_ids=[metric.get_json()["id"]]))
            assert response.status_code == 202
            return response.get_json()["id"]

        worker = start_worker(stack.env, tmp_path, "asr-outage")
        try:
            during = [wait_for_final(client, tenant, call_id, timeout=120) for call_id in
                      [submit() for _ in range(CALLS)]]
            requests_during = len(asr.requests)
            asr.status = 200  # the endpoint is back
            after = wait_for_final(client, tenant, submit(), timeout=60)
        finally:
            _stop(worker)
    for call in during:
        assert (call["analysis_status"], call["failure"]["code"], call["transcription_status"]) == (
            "failed", "metric_failed", "failed"), call["failure"]
        standard = {m["metric_key"]: m for m in call["standard_metrics"]}
        for key in ("latency_ms", "user_interruptions", "silence_detection", "talk_ratio"):
            assert (standard[key]["status"], standard[key]["source"]) == ("computed", "audio"), standard[key]
        assert standard["word_per_minute"]["error"]["code"] == "transcription_unavailable"
        judged = call["custom_metrics"][0]
        assert (judged["status"], judged["error"]["code"]) == ("failed", "transcription_unavailable")
    assert requests_during == CALLS * 3  # the first try and 2 retries per call (the first channel fails each)
    assert (after["analysis_status"], after["transcription_status"], after["transcript_source"]) == (
        "computed", "completed", "generated"), after.get("failure")
    assert after["custom_metrics"][0]["status"] == "computed"
    print(f"\ntranscriber down: {CALLS}/{CALLS} calls ended (failed, transcription_unavailable; turn-taking "
          f"metrics computed from the audio), {requests_during} requests; back up: the next call computed")
