"""Re-analysis through the real worker: a changed metric version gives new results and the old
run stays readable; a bulk job over a filter runs to the end with its progress readable."""
from __future__ import annotations

import time
import uuid

import pytest

from app.db.pool import connect
from app.service import admin
from tests.api.conftest import Tenant, call_body
from tests.e2e.conftest import wait_for_final
from tests.support.transcripts import CALL

API = "/api/public/v1"


@pytest.fixture()
def client(e2e_app, worker):
    return e2e_app.test_client()


@pytest.fixture()
def tenant(e2e_env, e2e_settings) -> Tenant:
    with connect(e2e_env["CALLSCOPE_DATABASE_URL"]) as conn:
        ws = admin.create_workspace(conn, f"reanalysis-{uuid.uuid4().hex[:6]}")
        agent = admin.create_agent(conn, ws["id"], "bot")
        token = admin.issue_token(conn, e2e_settings, ws["id"])
    return Tenant(ws["id"], agent["id"], token["key_id"], token["token"])


def submit(client, tenant, **fields) -> int:
    body = call_body(tenant, call_identifier=f"re-{uuid.uuid4().hex[:10]}", transcript=CALL, **fields)
    response = client.post(f"{API}/calls", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def custom(call: dict) -> dict:
    [result] = call["custom_metrics"]
    return result


@pytest.mark.parametrize("versions,expected", [("current", (2, 2000)), ("original", (1, 1000))])
def test_changed_metric_version_new_results_old_run_kept(client, tenant, versions, expected):
    metric = client.post(f"{API}/metrics", headers=tenant.headers, json={
        "name": "Scaled latency", "kind": "code", "result_type": "numeric",
        "code": 'metric["result"] = context["standard_metrics"]["latency_ms"]["average_ms"] // 960 * 1000'}).get_json()
    call_id = submit(client, tenant, metric_ids=[metric["id"]])
    first = wait_for_final(client, tenant, call_id)
    assert first["analysis_status"] == "computed" and first["analysis_run"] == 1
    assert (custom(first)["version"], custom(first)["result"]) == (1, 1000)
    changed = client.patch(f"{API}/metrics/{metric['id']}", headers=tenant.headers, json={
        "code": 'metric["result"] = context["standard_metrics"]["latency_ms"]["average_ms"] // 960 * 2000'})
    assert changed.get_json()["version"] == 2

    accepted = client.post(f"{API}/calls/{call_id}/reanalyze", headers=tenant.headers,
                           json={"metric_versions": versions})
    assert accepted.status_code == 202 and accepted.get_json() == {"id": call_id, "analysis_status": "pending",
                                                                   "analysis_run": 2}
    second = wait_for_final(client, tenant, call_id)
    assert second["analysis_status"] == "computed" and second["analysis_run"] == 2
    assert (custom(second)["version"], custom(second)["result"]) == expected
    latency = next(m for m in second["standard_metrics"] if m["metric_key"] == "latency_ms")
    assert latency["status"] == "computed" and latency["result_data"]["average_ms"] == 960
    [earlier] = client.get(f"{API}/calls/{call_id}/runs", headers=tenant.headers).get_json()["items"]
    assert earlier["run"] == 1 and earlier["analysis_status"] == "computed"
    assert [(r["version"], r["result"]) for r in earlier["custom_results"]] == [(1, 1000)]
    assert {r["metric_key"] for r in earlier["results"]} >= {"latency_ms", "talk_ratio"}
    history = [(h["from"], h["to"], h["code"]) for h in second["status_history"] if h["field"] == "analysis_status"]
    assert history == [(None, "pending", None), ("pending", "computed", None), ("computed", "pending", "reanalyze"),
                       ("pending", "computed", None)]


def test_subset_keeps_the_other_results(client, tenant):
    call_id = submit(client, tenant)
    wait_for_final(client, tenant, call_id)
    client.post(f"{API}/calls/{call_id}/reanalyze", headers=tenant.headers, json={"standard_metrics": ["latency_ms"]})
    again = wait_for_final(client, tenant, call_id)
    assert again["analysis_status"] == "computed"
    [earlier] = client.get(f"{API}/calls/{call_id}/runs", headers=tenant.headers).get_json()["items"]
    kept = {r["metric_key"]: r for r in earlier["results"]}
    now = {m["metric_key"]: m for m in again["standard_metrics"]}
    assert now["talk_ratio"]["result_data"] == kept["talk_ratio"]["result_data"]
    assert now["latency_ms"]["result_data"]["average_ms"] == 960


def test_bulk_job_over_a_filter_reports_progress_to_the_end(client, tenant):
    ids = [submit(client, tenant) for _ in range(7)]
    for call_id in ids:
        wait_for_final(client, tenant, call_id)
    job = client.post(f"{API}/reanalysis-jobs", headers=tenant.headers,
                      json={"filter": {"agent_id": tenant.agent_id, "analysis_status": "computed",
                                       "from": "2000-01-01T00:00:00Z"},
                            "standard_metrics": ["latency_ms"]})
    assert job.status_code == 202 and job.get_json()["total"] == 7 and job.get_json()["status"] == "running"
    url = job.headers["Location"]
    deadline = time.monotonic() + 60
    while (progress := client.get(url, headers=tenant.headers).get_json())["status"] != "done":
        assert time.monotonic() < deadline, progress
        time.sleep(0.3)
    assert progress["done"] == 7 and progress["skipped"] == 0
    for call_id in ids:
        call = wait_for_final(client, tenant, call_id)
        assert call["analysis_run"] == 2 and call["analysis_status"] == "computed"
