"""The Prometheus endpoints (docs/operations.md#metrics) of real multi-process servers: a prefork
worker counts every stage run exactly once, whichever pool process ran it, and its LLM request
histogram saw exactly the requests the provider received; gunicorn with several workers counts
every request once, whichever worker answered it and whichever answers the scrape."""
from __future__ import annotations

import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.api.conftest import call_body
from tests.e2e.conftest import E2E_LLM_ANSWERS, _start, _stop, isolated_stack, start_worker, wait_for_final
from tests.support.fake_llm import FakeLLM
from tests.support.prometheus import moved, parse, value

pytestmark = [pytest.mark.services, pytest.mark.e2e]
CALLS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_worker_counts_every_stage_run_across_its_pool_processes(e2e_env, tmp_path):
    port = free_port()
    with FakeLLM(answers=E2E_LLM_ANSWERS) as llm:
        stack = isolated_stack(e2e_env, "worker_metrics", 11, CALLSCOPE_LLM_BASE_URL=llm.base_url,
                               CALLSCOPE_WORKER_METRICS_PORT=str(port),
                               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"))
        client, tenant = stack.app.test_client(), stack.tenant
        web_before = parse(client.get("/metrics").get_data(as_text=True))
        worker = start_worker(stack.env, tmp_path, "metrics")  # prefork, two pool processes
        try:
            created = client.post("/api/public/v1/metrics", headers=tenant.headers, json={
                "name": "Greets the caller", "kind": "llm", "result_type": "boolean", "prompt": "Does the agent greet?"})
            assert created.status_code == 201
            ids = []
            for n in range(CALLS):
                response = client.post("/api/public/v1/calls", headers=tenant.headers, json=call_body(
                    tenant, call_identifier=f"metrics-{n}", metric_ids=[created.get_json()["id"]]))
                assert response.status_code == 202
                ids.append(response.get_json()["id"])
            for call_id in ids:
                assert wait_for_final(client, tenant, call_id)["analysis_status"] == "computed"
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                worker_samples = parse(answer.read().decode())
        finally:
            _stop(worker)
        web_after = parse(client.get("/metrics").get_data(as_text=True))
        llm_requests = len(llm.requests)

    runs = {(stage, outcome): value(worker_samples, "callscope_stage_runs_total", stage=stage, outcome=outcome)
            for stage, outcome in [("calls.analyze", "planned"), ("calls.transcript_metrics", "branch_ended"),
                                   ("calls.llm_judges", "branch_ended"), ("calls.code_judges", "judged"),
                                   ("calls.finalize", "decided")]}
    assert runs == dict.fromkeys(runs, CALLS)
    for stage in ("calls.analyze", "calls.transcript_metrics", "calls.llm_judges", "calls.code_judges", "calls.finalize"):
        assert value(worker_samples, "callscope_stage_duration_seconds_count", stage=stage) == CALLS
    assert value(worker_samples, "callscope_provider_request_duration_seconds_count",
                 provider="llm", outcome="ok") == llm_requests >= CALLS
    assert not any(name == "callscope_stage_failures_total" for name, _ in worker_samples)
    assert moved(web_before, web_after, "callscope_calls_accepted_total", observation_type="voice") == CALLS


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_gunicorn_workers_share_one_count(e2e_env, tmp_path):
    port = free_port()
    env = {**e2e_env, "CALLSCOPE_PORT": str(port), "CALLSCOPE_WEB_CONCURRENCY": "3",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus")}
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus" / "counter_99999.db").write_bytes(b"left by an earlier run")  # emptied at start
    root = Path(__file__).resolve().parents[2]
    web = _start([sys.executable, "-m", "gunicorn", "--config", str(root / "deploy/gunicorn.conf.py"), "app:create_app()"],
                 env, tmp_path / "gunicorn.log", "Booting worker")
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while get(f"{base}/healthz")[0] != 200:  # every worker up and answering
            assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()[-2000:]
            time.sleep(0.2)
        before = parse(get(f"{base}/metrics")[1])
        for _ in range(30):  # spread over the three workers by the kernel's accept queue
            assert get(f"{base}/healthz")[0] == 200
            assert get(f"{base}/no-such-page")[0] == 404
        # every scrape, whichever worker answers it, sees all of them
        for _ in range(5):
            after = parse(get(f"{base}/metrics")[1])
            assert moved(before, after, "callscope_http_requests_total", route="/healthz", method="GET", status="200") == 30
            assert moved(before, after, "callscope_http_errors_total", status="404", code="not_found") == 30
        pids = {line.split("pid: ")[1].split(")")[0] for line in (tmp_path / "gunicorn.log").read_text().splitlines()
                if "Booting worker" in line}
        assert len(pids) == 3
    finally:
        _stop(web)
