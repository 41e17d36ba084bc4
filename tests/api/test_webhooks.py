"""/webhooks: CRUD, the secret shown once, rotation, the delivery log, and the event written
with the call's final status (delivery itself: tests/workers/test_webhooks.py and e2e)."""
from __future__ import annotations

URL = "/api/public/v1/webhooks"


def create(client, tenant, **fields) -> dict:
    response = client.post(URL, json={"url": "http://127.0.0.1:9/hook", **fields}, headers=tenant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_secret_is_shown_at_creation_only_and_sealed_at_rest(client, tenant, db):
    created = create(client, tenant)
    assert created["secret"].startswith("whsec_") and created["events"] == ["call.computed", "call.failed"]
    assert created["secret_hint"] == "…" + created["secret"][-4:]
    assert "secret" not in client.get(f"{URL}/{created['id']}", headers=tenant.headers).get_json()
    stored = db.execute("SELECT secret FROM webhook_endpoints").fetchone()["secret"]
    assert created["secret"] not in stored


def test_rotation_keeps_the_old_secret_for_the_grace_period(client, tenant, db):
    created = create(client, tenant)
    rotated = client.post(f"{URL}/{created['id']}/rotate-secret", headers=tenant.headers).get_json()
    assert rotated["secret"] != created["secret"] and rotated["previous_secret_expires_at"]
    row = db.execute("SELECT previous_secret IS NOT NULL AS kept, previous_secret_expires_at > now() AS live"
                     " FROM webhook_endpoints").fetchone()
    assert row == {"kept": True, "live": True}


def test_validation_and_isolation(client, tenant, other_tenant):
    bad = client.post(URL, json={"url": "ftp://x/y", "events": ["call.exploded"]}, headers=tenant.headers)
    assert bad.status_code == 422 and {"url", "events.0"} <= set(bad.get_json()["error"]["details"])
    # the downloader's own URL rule (app/urls.py): what it could never post to is refused now
    for url in ("http://user:pw@127.0.0.1:9/hook", "http://[::1/hook", "http://127.0.0.1:0/hook",
                "http://[fe80::1%25eth0]/hook"):
        answer = client.post(URL, json={"url": url}, headers=tenant.headers)
        assert answer.status_code == 422 and "url" in answer.get_json()["error"]["details"], url
    created = create(client, tenant, events=["call.failed"])
    assert client.get(f"{URL}/{created['id']}", headers=other_tenant.headers).status_code == 404
    assert client.get(f"{URL}/{created['id']}/deliveries", headers=other_tenant.headers).status_code == 404
    patched = client.patch(f"{URL}/{created['id']}", json={"enabled": False}, headers=tenant.headers)
    assert patched.get_json()["enabled"] is False
    assert client.delete(f"{URL}/{created['id']}", headers=tenant.headers).status_code == 204


def test_a_final_status_writes_one_delivery_per_interested_endpoint(client, tenant, db):
    from app.db.pipeline import finalize_call
    from tests.api.conftest import call_body

    wants_all = create(client, tenant)
    create(client, tenant, events=["call.failed"])
    create(client, tenant, enabled=False)
    call_id = client.post("/api/public/v1/calls", json=call_body(tenant), headers=tenant.headers).get_json()["id"]
    with db.transaction():
        assert finalize_call(db, call_id, "computed", True, None, None)
    log = client.get(f"{URL}/{wants_all['id']}/deliveries", headers=tenant.headers).get_json()
    assert log["total"] == 1
    [delivery] = log["items"]
    assert delivery["event_type"] == "call.computed" and delivery["status"] == "pending"
    assert delivery["message_id"].startswith("msg_") and delivery["call_id"] == call_id
    payload = db.execute("SELECT payload FROM webhook_deliveries").fetchone()["payload"]
    assert payload["data"]["analysis_status"] == "computed" and payload["data"]["call_success"] is True
    assert db.execute("SELECT count(*) AS n FROM webhook_deliveries").fetchone()["n"] == 1
