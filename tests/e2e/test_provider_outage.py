"""The LLM provider is down (every request 503) while calls with LLM metrics flow through a
real worker: each call still ends — `failed` with `metric_failed`, its LLM results `failed`
`llm_unavailable` after the retries, every other metric computed — and none is lost."""
from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import call_body
from tests.e2e.conftest import isolated_stack, start_worker, wait_for_final, _stop
from tests.support.fake_llm import FakeLLM
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
