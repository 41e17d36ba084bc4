"""Agents CRUD, the standard catalogue, health probes and the error shape of unknown routes."""
from app.catalogue import STANDARD_KEYS

AGENTS = "/api/public/v1/agents"


def test_agent_crud(client, tenant, other_tenant):
    created = client.post(AGENTS, headers=tenant.headers, json={
        "name": "Booking bot", "ai_channel": "right", "analysis_settings": {"silence_threshold_ms": 3000}})
    assert created.status_code == 201
    agent = created.get_json()
    assert agent["ai_channel"] == "right" and agent["client_id"] == tenant.workspace_id
    assert agent["effective_analysis_settings"]["silence_threshold_ms"] == 3000
    assert agent["effective_analysis_settings"]["interruption_min_overlap_ms"] == 300
    url = f"{AGENTS}/{agent['id']}"
    assert created.headers["Location"] == url

    patched = client.patch(url, headers=tenant.headers, json={
        "analysis_settings": {"backchannel_max_ms": 800, "silence_threshold_ms": None}}).get_json()
    assert patched["analysis_settings"] == {"backchannel_max_ms": 800}
    assert patched["effective_analysis_settings"]["silence_threshold_ms"] == 2000

    listing = client.get(AGENTS, headers=tenant.headers).get_json()
    assert listing["total"] == 2 and {a["name"] for a in listing["items"]} == {"acme agent", "Booking bot"}
    assert client.get(url, headers=other_tenant.headers).status_code == 404
    assert client.patch(url, headers=other_tenant.headers, json={"name": "x"}).status_code == 404
    assert client.delete(url, headers=other_tenant.headers).status_code == 404

    assert client.delete(url, headers=tenant.headers).status_code == 204
    assert client.get(url, headers=tenant.headers).status_code == 404
    assert client.get(AGENTS, headers=tenant.headers).get_json()["total"] == 1


def test_agent_validation(client, tenant):
    cases = [({"name": ""}, "name"), ({"name": "a", "ai_channel": "center"}, "ai_channel"),
             ({"name": "a", "disabled_standard_metrics": ["nope"]}, "disabled_standard_metrics.0"),
             ({"name": "a", "analysis_settings": {"silence_threshold_ms": -5}}, "analysis_settings.silence_threshold_ms"),
             ({"name": "a", "analysis_settings": {"loudness": 1}}, "analysis_settings.loudness"),
             ({"name": "a", "enabled_metric_ids": [77]}, "enabled_metric_ids")]
    for body, field in cases:
        response = client.post(AGENTS, headers=tenant.headers, json=body)
        assert response.status_code == 422, body
        assert field in response.get_json()["error"]["details"], response.get_json()


def test_standard_catalogue(client, tenant):
    items = client.get("/api/public/v1/metrics/standard", headers=tenant.headers).get_json()["items"]
    assert [m["key"] for m in items] == list(STANDARD_KEYS)
    assert all(m["name"] and m["needs"] and m["result_shape"] for m in items)


def test_health(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"] == {"database": "ok", "broker": "ok"}


def test_unknown_route_and_method_use_the_error_shape(client, tenant):
    response = client.get("/api/public/v1/nothing-here", headers=tenant.headers)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = client.delete("/api/public/v1/calls", headers=tenant.headers)
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


def test_database_down_is_503_with_the_error_body(settings, tenant):
    """Postgres unreachable: 503 `database_unavailable` within the timeout, never a 500 or a hang."""
    import time
    from dataclasses import replace

    from app import create_app

    dead = replace(settings, database_url="postgresql://callscope@127.0.0.1:9/none", db_timeout_seconds=1.0)
    app = create_app(dead)
    try:
        client = app.test_client()
        started = time.monotonic()
        response = client.get("/api/public/v1/calls", headers=tenant.headers)
        assert response.status_code == 503 and response.headers["Retry-After"]
        assert response.get_json()["error"]["code"] == "database_unavailable"
        assert time.monotonic() - started < 10
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["database"] == "unreachable"
    finally:
        app.extensions["callscope"].pool.close(timeout=1)
