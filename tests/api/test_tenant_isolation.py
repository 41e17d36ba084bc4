"""Tenant isolation, swept from the OpenAPI operation list: every documented operation that
names a resource is called by one workspace with another workspace's ids (internal id and
call_identifier forms) and must answer 404 `not_found`, leaking nothing of the other's data —
except `DELETE /calls/{ref}`, which answers 204 to any call it does not erase (idempotent,
docs/api.md#erasing-a-call): there the answer must be the one a call that never existed gets,
and the other workspace's call must be untouched."""
from __future__ import annotations

import json

from app.api.openapi import OPERATIONS
from tests.api.conftest import call_body

# a valid body for each PATCH, so that the lookup (not validation) decides the answer
PATCHES = {"/calls/{ref}": {"label": "x"}, "/agents/{agent_id}": {"name": "x"}, "/metrics/{metric_id}": {"name": "x"},
           "/integrations/{integration_id}": {"name": "x"}, "/webhooks/{webhook_id}": {"enabled": False}}
ERASING = {("delete", "/calls/{ref}")}


def _theirs(client, other):
    call = client.post("/api/public/v1/calls", json=call_body(other, call_identifier="secret-call-77",
                                                               metadata={"ssn": "123-45-6789"}),
                       headers=other.headers).get_json()
    metric = client.post("/api/public/v1/metrics", headers=other.headers, json={
        "name": "Secret metric", "kind": "llm", "result_type": "boolean", "prompt": "secret prompt"}).get_json()
    integration = client.post("/api/public/v1/integrations", headers=other.headers, json={
        "platform": "retell", "name": "Secret metric", "signing_secret": "secret prompt 123",
        "default_agent_id": other.agent_id}).get_json()
    webhook = client.post("/api/public/v1/webhooks", headers=other.headers, json={
        "url": "http://127.0.0.1:9/secret-call-77", "description": "Secret metric"}).get_json()
    job = client.post("/api/public/v1/reanalysis-jobs", headers=other.headers, json={}).get_json()
    return {"ref": [str(call["id"]), "secret-call-77"], "agent_id": [str(other.agent_id)],
            "metric_id": [str(metric["id"])], "integration_id": [str(integration["id"])],
            "webhook_id": [str(webhook["id"])], "job_id": [str(job["id"])]}


def test_every_operation_naming_a_resource_hides_other_workspaces(client, tenant, other_tenant):
    other = other_tenant
    ids = _theirs(client, other)
    probed = 0
    for method, path, *_ in OPERATIONS:
        params = [name for name in ids if "{" + name + "}" in path]
        if not params:
            continue
        for value in ids[params[0]]:
            url = "/api/public/v1" + path.replace("{" + params[0] + "}", value)
            body_json = PATCHES.get(path) if method == "patch" else {} if method == "post" else None
            response = client.open(url, method=method.upper(), json=body_json, headers=tenant.headers)
            if (method, path) in ERASING:
                never_was = client.open("/api/public/v1/calls/never-was", method="DELETE", headers=tenant.headers)
                assert (response.status_code, response.data) == (never_was.status_code, never_was.data) == (204, b"")
                assert client.get(f"/api/public/v1/calls/{ids['ref'][0]}", headers=other.headers).status_code == 200
                probed += 1
                continue
            assert response.status_code == 404, (method, url, response.status_code)
            body = response.get_data(as_text=True)
            assert json.loads(body)["error"]["code"] == "not_found"
            for secret in ("secret-call-77", "123-45-6789", "Secret metric", "secret prompt"):
                assert secret not in body or value == secret, (method, url, body)
            probed += 1
    # calls (get, patch, delete, reanalyze, runs) × 2 id forms, agents (get, patch, delete), metrics (get, versions,
    # patch, delete), integrations (get, patch, delete), webhooks (get, patch, delete, rotate, deliveries,
    # redeliver), jobs
    assert probed >= 27


def test_lists_filters_and_creates_do_not_cross_workspaces(client, tenant, other_tenant):
    _theirs(client, other_tenant)
    headers = tenant.headers
    for url in ("/api/public/v1/calls", "/api/public/v1/agents", "/api/public/v1/metrics",
                f"/api/public/v1/calls?agent_id={other_tenant.agent_id}"):
        page = client.get(url, headers=headers).get_json()
        names = {item.get("name") for item in page["items"]}
        assert "Secret metric" not in names and all(item.get("client_id") in (None, tenant.workspace_id)
                                                   for item in page["items"]), (url, page)
    assert client.get(f"/api/public/v1/calls?agent_id={other_tenant.agent_id}", headers=headers).get_json()["total"] == 0
    # naming their agent or their client_id in a new call: 404, as if they did not exist
    foreign_agent = client.post("/api/public/v1/calls", headers=headers,
                                json=call_body(tenant, call_identifier="x1", agent_id=other_tenant.agent_id))
    foreign_client = client.post("/api/public/v1/calls", headers=headers,
                                 json=call_body(tenant, call_identifier="x2", client_id=other_tenant.workspace_id))
    assert foreign_agent.status_code == 404 and foreign_client.status_code == 404
    # the same call_identifier is free in this workspace (no 409 leaks that it exists elsewhere)
    mine = client.post("/api/public/v1/calls", headers=headers, json=call_body(tenant, call_identifier="secret-call-77"))
    assert mine.status_code == 202
