"""/metrics: custom metric definitions, versions, validation, and which metrics a call runs."""
from __future__ import annotations

import pytest

from tests.api.conftest import call_body

URL = "/api/public/v1/metrics"

LLM = {"name": "Polite", "kind": "llm", "result_type": "boolean", "prompt": "Was the agent polite?",
       "pass_criteria": {"equals": True}, "critical": True}
CODE = {"name": "Fast answers", "kind": "code", "result_type": "numeric",
        "code": 'metric["result"] = context["standard_metrics"]["latency_ms"]["average_ms"]\n'
                'metric["explanation"] = "average latency"',
        "pass_criteria": {"lte": 1500}}


def create(client, tenant, **fields):
    response = client.post(URL, json=fields, headers=tenant.headers)
    assert response.status_code == 201, response.json
    return response.json


def test_create_read_list_delete(client, tenant):
    made = create(client, tenant, **LLM)
    assert made["version"] == 1 and made["kind"] == "llm" and made["critical"] is True and made["enabled"] is True
    assert client.get(f"{URL}/{made['id']}", headers=tenant.headers).json == made
    page = client.get(URL, headers=tenant.headers).json
    assert page["total"] == 1 and page["items"][0]["id"] == made["id"]
    assert client.delete(f"{URL}/{made['id']}", headers=tenant.headers).status_code == 204
    assert client.get(f"{URL}/{made['id']}", headers=tenant.headers).status_code == 404
    assert client.get(URL, headers=tenant.headers).json["total"] == 0
    # a deleted metric's versions stay readable (its past results point at them)
    assert client.get(f"{URL}/{made['id']}/versions", headers=tenant.headers).json["items"][0]["prompt"] == LLM["prompt"]


def test_every_change_is_a_new_version(client, tenant):
    made = create(client, tenant, **LLM)
    changed = client.patch(f"{URL}/{made['id']}", json={"prompt": "Was the agent courteous?"}, headers=tenant.headers)
    assert changed.status_code == 200 and changed.json["version"] == 2
    same = client.patch(f"{URL}/{made['id']}", json={"prompt": "Was the agent courteous?"}, headers=tenant.headers)
    assert same.json["version"] == 2  # nothing changed: no new version
    versions = client.get(f"{URL}/{made['id']}/versions", headers=tenant.headers).json["items"]
    assert [(v["version"], v["prompt"]) for v in versions] == [(1, LLM["prompt"]), (2, "Was the agent courteous?")]


@pytest.mark.parametrize("fields, path, fragment", [
    ({"kind": "llm", "result_type": "boolean"}, "prompt", "Required"),
    ({"kind": "code", "result_type": "boolean", "code": "x = 1", "prompt": "judge"}, "prompt", "Not used"),
    ({"kind": "llm", "result_type": "enum", "prompt": "p"}, "enum_values", "Required"),
    ({"kind": "llm", "result_type": "enum", "prompt": "p", "enum_values": ["a", "a"]}, "enum_values", "unique"),
    ({"kind": "llm", "result_type": "boolean", "prompt": "p", "enum_values": ["a", "b"]}, "enum_values", "Only enum"),
    ({"kind": "llm", "result_type": "rating", "prompt": "p", "pass_criteria": {"gte": 6}}, "pass_criteria", ""),
    ({"kind": "llm", "result_type": "rating", "prompt": "p", "pass_criteria": {"equals": 7}}, "pass_criteria",
     "not a possible result"),
    ({"kind": "llm", "result_type": "boolean", "prompt": "p", "pass_criteria": {"gte": 1}}, "pass_criteria",
     "does not apply"),
    ({"kind": "llm", "result_type": "enum", "prompt": "p", "enum_values": ["good", "bad"],
      "pass_criteria": {"in": ["good", "meh"]}}, "pass_criteria", "'meh'"),
    ({"kind": "llm", "result_type": "numeric", "prompt": "p", "pass_criteria": {"between": [5, 1]}},
     "pass_criteria", "low ≤ high"),
    ({"kind": "llm", "result_type": "numeric", "prompt": "p", "pass_criteria": {"gte": 1, "lte": 2}},
     "pass_criteria", ""),
    ({"kind": "llm", "result_type": "numeric", "prompt": "p", "pass_criteria": {"about": 1}}, "pass_criteria", ""),
    ({"kind": "code", "result_type": "boolean", "code": "metric['result'] = (\n"}, "code", "line"),
    ({"kind": "code", "result_type": "boolean", "code": "x = 1\nimport os"}, "code", "line 2: imports"),
    ({"kind": "code", "result_type": "boolean", "code": "x = ().__class__"}, "code", "dunder"),
    ({"kind": "code", "result_type": "boolean", "code": "x = 1", "redact": True}, "redact", "LLM judge"),
    ({"kind": "llm", "result_type": "boolean", "prompt": "p", "redact": "yes"}, "redact", ""),
    ({"kind": "unknown", "result_type": "boolean"}, "kind", ""),
    ({"kind": "llm", "result_type": "percent", "prompt": "p"}, "result_type", ""),
])
def test_invalid_definitions_get_422_naming_the_field(client, tenant, fields, path, fragment):
    response = client.post(URL, json={"name": "m", **fields}, headers=tenant.headers)
    assert response.status_code == 422, response.json
    details = response.json["error"]["details"]
    messages = " ".join(m for field, ms in details.items() if field.split(".")[0] == path for m in ms)
    assert messages, details
    assert fragment in messages


def test_redaction_is_part_of_the_definition(client, tenant):
    made = client.post(URL, json={**LLM, "redact": True}, headers=tenant.headers).json
    assert made["redact"] is True
    assert client.post(URL, json={**LLM, "name": "plain"}, headers=tenant.headers).json["redact"] is False
    changed = client.patch(f"{URL}/{made['id']}", json={"redact": False}, headers=tenant.headers).json
    assert (changed["version"], changed["redact"]) == (2, False)


def test_a_patch_is_validated_as_a_whole(client, tenant):
    made = create(client, tenant, **CODE)
    response = client.patch(f"{URL}/{made['id']}", json={"code": "open('/etc/passwd')"}, headers=tenant.headers)
    assert response.status_code == 422 and "open() is not available" in response.json["error"]["details"]["code"][0]
    response = client.patch(f"{URL}/{made['id']}", json={"result_type": "boolean"}, headers=tenant.headers)
    assert response.status_code == 422 and "pass_criteria" in response.json["error"]["details"]
    assert client.get(f"{URL}/{made['id']}", headers=tenant.headers).json["version"] == 1


def test_names_are_unique_among_live_metrics(client, tenant):
    first = create(client, tenant, **LLM)
    clash = client.post(URL, json={**LLM, "name": "POLITE"}, headers=tenant.headers)
    assert clash.status_code == 409 and clash.json["error"]["code"] == "metric_name_conflict"
    other = create(client, tenant, **CODE)
    rename = client.patch(f"{URL}/{other['id']}", json={"name": "polite"}, headers=tenant.headers)
    assert rename.status_code == 409
    client.delete(f"{URL}/{first['id']}", headers=tenant.headers)
    assert client.post(URL, json=LLM, headers=tenant.headers).status_code == 201  # the name is free again


def test_metrics_of_another_workspace_are_not_found(client, tenant, other_tenant):
    theirs = create(client, other_tenant, **LLM)
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(f"{URL}/{theirs['id']}", json={} if method == "patch" else None,
                                           headers=tenant.headers)
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
    assert client.get(f"{URL}/{theirs['id']}/versions", headers=tenant.headers).status_code == 404
    assert client.get(URL, headers=tenant.headers).json["total"] == 0
    # the same name is free in another workspace
    assert client.post(URL, json=LLM, headers=tenant.headers).status_code == 201
    # and a call or an agent cannot name the foreign metric
    body = call_body(tenant, metric_ids=[theirs["id"]])
    assert client.post("/api/public/v1/calls", json=body, headers=tenant.headers).status_code == 422
    patch = client.patch(f"/api/public/v1/agents/{tenant.agent_id}", json={"enabled_metric_ids": [theirs["id"]]},
                         headers=tenant.headers)
    assert patch.status_code == 422


def _custom_ids_of_call(client, tenant, **fields):
    response = client.post("/api/public/v1/calls", json=call_body(tenant, **fields), headers=tenant.headers)
    assert response.status_code == 202, response.json
    call = client.get(f"/api/public/v1/calls/{response.json['id']}", headers=tenant.headers).json
    return [(m["metric_id"], m["version"], m["status"]) for m in call["custom_metrics"]]


def test_a_call_runs_the_agents_enabled_metrics_or_its_own_metric_ids(client, tenant):
    polite = create(client, tenant, **LLM)
    fast = create(client, tenant, **CODE)
    disabled = create(client, tenant, **{**LLM, "name": "Off", "enabled": False})
    client.patch(f"/api/public/v1/agents/{tenant.agent_id}",
                 json={"enabled_metric_ids": [polite["id"], fast["id"], disabled["id"]]}, headers=tenant.headers)
    # the agent's set, minus metrics switched off
    assert _custom_ids_of_call(client, tenant, call_identifier="a") == [
        (polite["id"], 1, "pending"), (fast["id"], 1, "pending")]
    # metric_ids replaces the set (and runs a disabled metric the caller asked for by id)
    assert _custom_ids_of_call(client, tenant, call_identifier="b", metric_ids=[disabled["id"]]) == [
        (disabled["id"], 1, "pending")]
    # results are pinned to the version current at submission
    client.patch(f"{URL}/{polite['id']}", json={"prompt": "Was the agent kind?"}, headers=tenant.headers)
    assert _custom_ids_of_call(client, tenant, call_identifier="c")[0] == (polite["id"], 2, "pending")
    # a deleted metric no longer runs, even if the agent still lists it
    client.delete(f"{URL}/{fast['id']}", headers=tenant.headers)
    assert [m[0] for m in _custom_ids_of_call(client, tenant, call_identifier="d")] == [polite["id"]]


def test_agents_take_standard_criteria(client, tenant):
    url = f"/api/public/v1/agents/{tenant.agent_id}"
    good = [{"metric": "latency_ms.average_ms", "criteria": {"lte": 1500}}]
    response = client.patch(url, json={"standard_criteria": good}, headers=tenant.headers)
    assert response.status_code == 200
    assert response.json["standard_criteria"] == [{**good[0], "critical": True}]
    bad = client.patch(url, json={"standard_criteria": [{"metric": "latency.average_ms", "criteria": {"lte": 1}}]},
                       headers=tenant.headers)
    assert bad.status_code == 422 and "standard_criteria.0.metric" in bad.json["error"]["details"]
    bad = client.patch(url, json={"standard_criteria": [{"metric": "latency_ms.average_ms",
                                                         "criteria": {"in": ["fast"]}}]}, headers=tenant.headers)
    assert bad.status_code == 422 and "standard_criteria.0.criteria" in bad.json["error"]["details"]
