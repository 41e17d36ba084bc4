"""POST /calls: acceptance, defaults, idempotency, tenancy and every validation rule (docs/api.md#submitting-a-call)."""
import json
import threading

import pytest

from tests.api.conftest import call_body

URL = "/api/public/v1/calls"


def post(client, tenant, body, **kwargs):
    return client.post(URL, json=body, headers=tenant.headers, **kwargs)


def assert_error(response, status, code):
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def test_accepted_call_is_stored_with_pending_metrics(client, tenant):
    response = post(client, tenant, call_body(tenant, metadata={"crm": "x1"}, label="vip"))
    assert response.status_code == 202
    body = response.get_json()
    assert body["analysis_status"] == "pending" and body["call_identifier"] == "call-1"
    assert response.headers["Location"] == f"/api/public/v1/calls/{body['id']}" == body["links"]["self"]
    call = client.get(body["links"]["self"], headers=tenant.headers).get_json()
    assert call["observation_type"] == "voice" and call["call_direction"] == "inbound"  # defaults
    assert call["metadata"] == {"crm": "x1"} and call["label"] == "vip"
    assert call["transcript_source"] == "provided" and len(call["transcript"]) == 3
    assert call["call_timestamp"] is not None  # defaults to ingestion time
    assert {m["metric_key"] for m in call["standard_metrics"]} >= {"latency_ms", "talk_ratio"}
    assert all(m["status"] == "pending" for m in call["standard_metrics"])
    assert call["status_history"][0]["to"] == "pending"


def test_disabled_standard_metrics_get_no_result_row(client, tenant):
    client.patch(f"/api/public/v1/agents/{tenant.agent_id}", headers=tenant.headers,
                 json={"disabled_standard_metrics": ["talk_ratio"]})
    call_id = post(client, tenant, call_body(tenant)).get_json()["id"]
    keys = {m["metric_key"] for m in client.get(f"{URL}/{call_id}", headers=tenant.headers).get_json()["standard_metrics"]}
    assert "talk_ratio" not in keys and "latency_ms" in keys


def test_repeated_identifier_is_409_with_existing_id(client, tenant):
    first = post(client, tenant, call_body(tenant)).get_json()
    error = assert_error(post(client, tenant, call_body(tenant)), 409, "call_identifier_conflict")
    assert error["details"]["id"] == first["id"]


def test_same_identifier_in_another_workspace_is_fine(client, tenant, other_tenant):
    assert post(client, tenant, call_body(tenant)).status_code == 202
    assert post(client, other_tenant, call_body(other_tenant)).status_code == 202


def test_concurrent_duplicates_exactly_one_wins(app, tenant):
    statuses, barrier = [], threading.Barrier(8)

    def submit():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post(URL, json=call_body(tenant, call_identifier="race"),
                                    headers=tenant.headers).status_code)

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [202] + [409] * 7


def test_foreign_agent_and_client_are_404(client, tenant, other_tenant):
    assert_error(post(client, tenant, call_body(tenant, agent_id=other_tenant.agent_id)), 404, "not_found")
    assert_error(post(client, tenant, call_body(tenant, client_id=other_tenant.workspace_id)), 404, "not_found")
    assert_error(post(client, tenant, call_body(tenant, agent_id=999999)), 404, "not_found")


def test_deleted_agent_is_404(client, tenant):
    client.delete(f"/api/public/v1/agents/{tenant.agent_id}", headers=tenant.headers)
    assert_error(post(client, tenant, call_body(tenant)), 404, "not_found")


@pytest.mark.parametrize("patch,field", [
    ({"transcript": [{"role": "assistant", "content": "hi"}]}, "transcript.0.role"),
    ({"transcript": [{"role": "AI assistant", "content": "hi"}]}, "transcript.0.role"),
    ({"transcript": [{"role": "User", "content": "hi", "start_time": 3, "end_time": 2}]}, "transcript.0.end_time"),
    ({"transcript": [{"role": "User", "content": "hi", "start_time": -1}]}, "transcript.0.start_time"),
    ({"transcript": [{"role": "User", "content": "hi", "start_time": "1.0"}]}, "transcript.0.start_time"),
    ({"transcript": [{"role": "User", "content": "hi", "speaker": "x"}]}, "transcript.0.speaker"),
    ({"transcript": []}, "transcript"),
    ({"call_identifier": ""}, "call_identifier"),
    ({"call_identifier": "x" * 256}, "call_identifier"),
    ({"agent_id": "7"}, "agent_id"),
    ({"agent_id": True}, "agent_id"),
    ({"agent_id": 1.5}, "agent_id"),
    ({"observation_type": "video"}, "observation_type"),
    ({"call_direction": "sideways"}, "call_direction"),
    ({"recording_url": "ftp://example.com/a.wav"}, "recording_url"),
    ({"recording_url": "not a url"}, "recording_url"),
    ({"recording_url": "https://example.com/" + "a" * 2048}, "recording_url"),
    # the downloader's parser raised ValueError on these (issue 16, finding 5): refused up front
    ({"recording_url": "http://8.8.8.8\u2100/a.wav"}, "recording_url"),
    ({"recording_url": "http://[::1/a.wav"}, "recording_url"),
    ({"recording_url": "http://[fe80::1%25eth0]/a.wav"}, "recording_url"),
    ({"recording_url": "http://user:pw@example.com/a.wav"}, "recording_url"),
    ({"recording_url": "http://example.com:0/a.wav"}, "recording_url"),
    ({"call_timestamp": "2025-01-01T10:00:00"}, "call_timestamp"),
    ({"call_timestamp": "yesterday"}, "call_timestamp"),
    ({"duration_seconds": -1}, "duration_seconds"),
    ({"customer_number": "1" * 65}, "customer_number"),
    ({"metric_ids": ["a"]}, "metric_ids.0"),
    ({"metric_ids": [12345]}, "metric_ids"),
    ({"metadata": {"blob": "x" * (64 * 1024)}}, "metadata"),
    ({"metadata": ["not", "an", "object"]}, "metadata"),
    ({"surprise": 1}, "surprise"),
])
def test_invalid_fields_are_422_with_field_details(client, tenant, patch, field):
    error = assert_error(post(client, tenant, call_body(tenant, **patch)), 422, "validation_failed")
    assert field in error["details"], error["details"]
    assert all(isinstance(m, str) for m in error["details"][field])


def test_missing_required_fields_are_named(client, tenant):
    error = assert_error(post(client, tenant, {"transcript": call_body(tenant)["transcript"]}), 422, "validation_failed")
    assert {"call_identifier", "agent_id", "client_id"} <= set(error["details"])


def test_neither_recording_nor_transcript_is_422(client, tenant):
    body = call_body(tenant)
    del body["transcript"]
    error = assert_error(post(client, tenant, body), 422, "validation_failed")
    assert "recording_url" in error["details"] and "transcript" in error["details"]


def test_recording_only_and_tool_turns_are_accepted(client, tenant):
    body = call_body(tenant, transcript=None, recording_url="http://127.0.0.1:9/call.wav",
                     call_timestamp="2025-03-01T09:30:00+01:00", call_direction="outbound")
    assert post(client, tenant, body).status_code == 202
    tools = call_body(tenant, call_identifier="tools", transcript=[
        {"role": "Function Call", "data": {"id": "c1", "name": "book", "arguments": '{"day": "fri"}'}},
        {"role": "Function Call Result", "content": "", "data": {"id": "c1", "result": {"ok": True}}},
    ])
    response = post(client, tenant, tools)
    assert response.status_code == 202
    stored = client.get(response.headers["Location"], headers=tenant.headers).get_json()["transcript"]
    assert stored[0]["data"]["arguments"] == '{"day": "fri"}' and stored[1]["data"]["result"] == {"ok": True}


def test_too_many_turns_is_422(client, tenant):
    turns = [{"role": "User", "content": "a"}] * 5001
    error = assert_error(post(client, tenant, call_body(tenant, transcript=turns)), 422, "validation_failed")
    assert "transcript" in error["details"]


def test_body_over_5_mib_is_413(client, tenant):
    body = call_body(tenant, label="x")
    raw = json.dumps(body)[:-1] + ', "metadata": {"k": "' + "x" * (5 * 1024 * 1024) + '"}}'
    response = client.post(URL, data=raw, content_type="application/json", headers=tenant.headers)
    assert_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("data,content_type,status,code", [
    ("{not json", "application/json", 400, "malformed_request"),
    ("[1, 2]", "application/json", 400, "malformed_request"),
    ('"text"', "application/json", 400, "malformed_request"),
    ('{"a": NaN}', "application/json", 400, "malformed_request"),
    (b"\xff\xfe", "application/json", 400, "malformed_request"),
    ("[" * 5000 + "]" * 5000, "application/json", 400, "malformed_request"),
    ("call_identifier=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("{}", "text/plain", 415, "unsupported_media_type"),
])
def test_non_json_bodies(client, tenant, data, content_type, status, code):
    response = client.post(URL, data=data, content_type=content_type, headers=tenant.headers)
    assert_error(response, status, code)


def test_deeply_nested_object_is_400(client, tenant):
    nested = "{}"
    for _ in range(100):
        nested = '{"a": ' + nested + "}"
    body = json.dumps(call_body(tenant))[:-1] + ', "metadata": ' + nested + "}"
    response = client.post(URL, data=body, content_type="application/json", headers=tenant.headers)
    assert_error(response, 400, "malformed_request")


def test_nul_characters_are_422_not_500(client, tenant):
    """Found by fuzzing: Postgres stores no NUL in text or jsonb."""
    for patch, field in [({"call_identifier": "a\x00b"}, "call_identifier"), ({"label": "x\x00"}, "label"),
                         ({"metadata": {"k": "v\x00"}}, "metadata.k")]:
        error = assert_error(post(client, tenant, call_body(tenant, **patch)), 422, "validation_failed")
        assert field in error["details"]
    body = call_body(tenant)
    body["transcript"][1]["content"] = "hi\x00"
    assert "transcript.1.content" in assert_error(post(client, tenant, body), 422, "validation_failed")["details"]
    assert client.get(f"{URL}?label=%00", headers=tenant.headers).status_code == 422
    assert client.get(f"{URL}/a%00b", headers=tenant.headers).status_code == 404
