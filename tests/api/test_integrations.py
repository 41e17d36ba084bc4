"""Integrations: CRUD with sealed secrets, and the events endpoint's signature checks, mapping
and idempotency (through the Flask test client; tests/e2e/test_platforms.py replays the same
events over real HTTP to a running app and worker)."""
from __future__ import annotations

import time

import pytest

from tests.support import platforms as pf

URL = "/api/public/v1/integrations"
SECRET = "whsec-platform-secret-0123456789"


def create(client, tenant, **fields) -> dict:
    body = {"platform": "retell", "name": "Retell prod", "signing_secret": SECRET,
            "default_agent_id": tenant.agent_id, **fields}
    response = client.post(URL, json=body, headers=tenant.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def send(client, integration: dict, payload: dict, secret: str = SECRET, at: float | None = None, headers=None):
    body = pf.encode(payload)
    signed = headers if headers is not None else pf.SIGNERS[integration["platform"]](secret, body, at)
    return client.post(f"{URL}/{integration['id']}/events", data=body,
                       headers={"Content-Type": "application/json", **signed})


def calls(db) -> list[dict]:
    rows = db.execute("SELECT * FROM calls ORDER BY id").fetchall()
    db.commit()  # a fresh snapshot next time (and no transaction left open across requests)
    return rows


def test_secrets_are_sealed_and_never_shown_again(client, tenant, db):
    created = create(client, tenant, api_key="vapi-private-key-abcd")
    assert "signing_secret" not in created and "api_key" not in created
    assert created["signing_secret_hint"] == "…6789" and created["api_key_hint"] == "…abcd"
    assert created["events_url"].endswith(f"/api/public/v1/integrations/{created['id']}/events")
    stored = db.execute("SELECT signing_secret, api_key FROM integrations").fetchone()
    assert SECRET not in stored["signing_secret"] and "abcd" not in stored["api_key"]
    listed = client.get(URL, headers=tenant.headers).get_json()
    assert listed["total"] == 1 and SECRET not in str(listed)
    assert SECRET not in str(client.get(f"{URL}/{created['id']}", headers=tenant.headers).get_json())


def test_rotating_the_signing_secret_refuses_the_old_one(client, tenant, db):
    integration = create(client, tenant)
    new = "a-brand-new-platform-secret-9876"
    patched = client.patch(f"{URL}/{integration['id']}", json={"signing_secret": new}, headers=tenant.headers)
    assert patched.status_code == 200 and patched.get_json()["signing_secret_hint"] == "…9876"
    assert send(client, integration, pf.retell_event("call_ended", "r-rot")).status_code == 401
    assert send(client, integration, pf.retell_event("call_ended", "r-rot"), secret=new).status_code == 200


def test_agent_map_must_name_agents_of_the_workspace(client, tenant, other_tenant):
    body = {"platform": "vapi", "name": "x", "signing_secret": SECRET, "agent_map": {"asst": other_tenant.agent_id}}
    response = client.post(URL, json=body, headers=tenant.headers)
    assert response.status_code == 422 and "agent_map" in response.get_json()["error"]["details"]
    nothing = {"platform": "vapi", "name": "x", "signing_secret": SECRET}
    assert client.post(URL, json=nothing, headers=tenant.headers).status_code == 422


def test_integrations_are_per_workspace(client, tenant, other_tenant):
    integration = create(client, tenant)
    assert client.get(f"{URL}/{integration['id']}", headers=other_tenant.headers).status_code == 404
    assert client.delete(f"{URL}/{integration['id']}", headers=other_tenant.headers).status_code == 404
    assert client.delete(f"{URL}/{integration['id']}", headers=tenant.headers).status_code == 204


@pytest.mark.parametrize("platform,payload", [
    ("retell", pf.retell_event("call_ended", "sig-1")),
    ("vapi", pf.vapi_report("sig-1")),
    ("elevenlabs", pf.elevenlabs_transcription("sig-1")),
])
def test_bad_missing_stale_and_replayed_signatures_are_401_and_store_nothing(client, tenant, db, platform, payload):
    integration = create(client, tenant, platform=platform)
    body = pf.encode(payload)
    good = pf.SIGNERS[platform](SECRET, body)
    cases = {
        "missing": {},
        "wrong secret": pf.SIGNERS[platform]("not-the-secret-at-all", body),
        "stale": pf.SIGNERS[platform](SECRET, body, at=time.time() - 3 * 3600),
        "from the future": pf.SIGNERS[platform](SECRET, body, at=time.time() + 3 * 3600),
    }
    for name, headers in cases.items():
        response = send(client, integration, payload, headers=headers)
        assert response.status_code == 401, name
        assert response.get_json()["error"]["code"] == "invalid_signature", name
    tampered = client.post(f"{URL}/{integration['id']}/events", data=body.replace(b"sig-1", b"sig-2"),
                           headers={"Content-Type": "application/json", **good})
    assert tampered.status_code == 401
    assert calls(db) == [] and db.execute("SELECT count(*) AS n FROM integration_signatures").fetchone()["n"] == 0
    assert send(client, integration, payload, headers=good).status_code == 200
    replay = send(client, integration, payload, headers=good)
    assert replay.status_code == 401 and "replay" in replay.get_json()["error"]["message"]
    assert len(calls(db)) == 1


def test_retell_duplicates_and_call_analyzed_make_one_call_with_the_analysis(client, tenant, db):
    integration = create(client, tenant)
    first = send(client, integration, pf.retell_event("call_ended", "r-1"))
    assert first.status_code == 200 and first.get_json()["status"] == "accepted"
    duplicate = send(client, integration, pf.retell_event("call_ended", "r-1"))
    analyzed = send(client, integration, pf.retell_event("call_analyzed", "r-1"))
    assert duplicate.get_json()["status"] == analyzed.get_json()["status"] == "updated"
    assert duplicate.get_json()["call_id"] == first.get_json()["call_id"]
    [call] = calls(db)
    platform = call["metadata"]["platform"]
    assert platform["analysis"]["call_successful"] is True and platform["events"] == ["call_ended", "call_analyzed"]
    assert call["call_identifier"] == "r-1" and call["call_direction"] == "outbound"
    assert call["customer_number"] == "+15550222" and call["duration_seconds"] == 33
    assert call["call_end_reason"] == "user_hangup" and call["integration_id"] == integration["id"]
    assert call["recording_source"]["kind"] == "url" and call["recording_source"]["mono"] is False
    roles = [t["role"] for t in call["transcript"]]
    assert "Function Call" in roles and "Function Call Result" in roles
    first_turn = call["transcript"][0]
    assert first_turn["start_time"] == 0.5 and first_turn["end_time"] == 3.0


def test_retell_older_shape_and_mono_fallback(client, tenant, db):
    integration = create(client, tenant)
    assert send(client, integration, pf.retell_event("call_ended", "r-old", older=True,
                                                     multi_channel=False)).status_code == 200
    [call] = calls(db)
    assert call["recording_source"]["mono"] is True and call["metadata"]["platform"]["recording"] == "mono_fallback"
    assert call["metadata"]["platform"]["latency"]["e2e"]["p50"] == 900
    assert len(call["transcript"]) == 13


def test_vapi_current_and_older_shapes(client, tenant, db):
    integration = create(client, tenant, platform="vapi", api_key="vapi-private-key-abcd")
    assert send(client, integration, pf.vapi_report("v-new")).status_code == 200
    assert send(client, integration, pf.vapi_report("v-old", older=True)).status_code == 200
    new, old = calls(db)
    assert new["call_direction"] == "inbound" and old["call_direction"] == "outbound"
    assert new["duration_seconds"] == 33 and old["duration_seconds"] == 33
    assert new["customer_number"] == old["customer_number"] == "+15550100"
    assert new["call_end_reason"] == "customer-ended-call"
    assert new["recording_source"] == {"kind": "vapi", "call_id": "v-new", "mono": False,
                                       "url": "https://storage.vapi.ai/v-new-stereo.wav",
                                       "integration_id": integration["id"]}
    assert new["metadata"]["platform"]["analysis"]["successEvaluation"] == "true"
    assert old["metadata"]["platform"]["analysis"] == {"summary": "Booking moved to Friday."}
    for call in (new, old):
        roles = [t["role"] for t in call["transcript"]]
        assert roles.count("AI Assistant") == 7 and roles.count("User") == 6 and "Function Call" in roles
        assert call["transcript"][0]["start_time"] == 0.5 and call["transcript"][0]["end_time"] == 3.0


def test_elevenlabs_audio_is_stored_and_the_transcription_makes_the_call(client, tenant, db, app):
    integration = create(client, tenant, platform="elevenlabs")
    audio = send(client, integration, pf.elevenlabs_audio("conv-1", b"ID3fake-mp3-bytes"))
    assert audio.status_code == 200 and audio.get_json()["status"] == "stored" and calls(db) == []
    assert send(client, integration, pf.elevenlabs_transcription("conv-1")).status_code == 200
    [call] = calls(db)
    assert call["recording_source"]["kind"] == "stored"
    assert app.extensions["callscope"].storage.exists(call["recording_source"]["key"])
    assert call["customer_number"] == "+15550333" and call["call_end_reason"] == "Client disconnected"
    assert call["transcript"][0] == {"role": "AI Assistant", "content": pf.CALL[0]["content"],
                                     "start_time": 0.5, "end_time": 3.8}
    # older payloads without has_audio still expect the audio event; has_audio false: none
    assert send(client, integration, pf.elevenlabs_transcription("conv-2", has_audio=False)).status_code == 200
    assert calls(db)[1]["recording_source"] is None


def test_unmapped_agent_auto_created_once_then_mapped(client, tenant, db):
    integration = create(client, tenant, default_agent_id=None, auto_create_agents=True)
    send(client, integration, pf.retell_event("call_ended", "a-1", agent_id="agent_new"))
    send(client, integration, pf.retell_event("call_ended", "a-2", agent_id="agent_new"))
    first, second = calls(db)
    assert first["agent_id"] == second["agent_id"] != tenant.agent_id
    shown = client.get(f"{URL}/{integration['id']}", headers=tenant.headers).get_json()
    assert shown["agent_map"] == {"agent_new": first["agent_id"]}


def test_unmapped_agent_without_a_fallback_is_422_and_stores_nothing(client, tenant, db):
    integration = create(client, tenant, default_agent_id=None, agent_map={"agent_known": tenant.agent_id})
    response = send(client, integration, pf.retell_event("call_ended", "u-1", agent_id="agent_other"))
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "unmapped_agent"
    assert calls(db) == []
    assert send(client, integration, pf.retell_event("call_ended", "u-2", agent_id="agent_known")).status_code == 200


def test_other_events_are_acknowledged_and_ignored(client, tenant, db):
    integration = create(client, tenant)
    response = send(client, integration, {"event": "call_started", "call": {"call_id": "s-1"}})
    assert response.status_code == 200 and response.get_json()["status"] == "ignored" and calls(db) == []


def test_unknown_integration_is_404(client):
    assert client.post(f"{URL}/999999/events", data=b"{}", headers={"Content-Type": "application/json"}).status_code == 404


def test_reanalysis_of_a_call_still_pending_is_409(client, tenant):
    from tests.api.conftest import call_body

    call_id = client.post("/api/public/v1/calls", json=call_body(tenant), headers=tenant.headers).get_json()["id"]
    response = client.post(f"/api/public/v1/calls/{call_id}/reanalyze", json={}, headers=tenant.headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "analysis_in_progress"
    bad = client.post(f"/api/public/v1/calls/{call_id}/reanalyze", json={"metric_versions": "latest"},
                      headers=tenant.headers)
    assert bad.status_code == 422
    assert client.post("/api/public/v1/calls/nope/reanalyze", json={}, headers=tenant.headers).status_code == 404


def test_an_audio_event_larger_than_the_api_body_limit_is_accepted(client, tenant, app, settings):
    """ElevenLabs sends the whole call's audio in the body: the events endpoint has its own limit."""
    integration = create(client, tenant, platform="elevenlabs")
    audio = b"\xff\xfb" * (settings.max_body_bytes // 2 + 1)
    answer = send(client, integration, pf.elevenlabs_audio("big-1", audio))
    assert answer.status_code == 200 and answer.get_json()["status"] == "stored"
    assert client.post("/api/public/v1/agents", data=b"{" + b" " * (settings.max_body_bytes + 1) + b"}",
                       headers={**tenant.headers, "Content-Type": "application/json"}).status_code == 413


def _finish(db, call_id: int, status: str = "computed") -> None:
    from app.db.pipeline import finalize_call

    assert finalize_call(db, call_id, status, None, None, None)
    db.commit()  # the test's connection reads in an open transaction: release the row lock


def test_a_recording_that_comes_later_brings_a_new_run(client, tenant, db):
    integration = create(client, tenant)
    bare = pf.retell_event("call_ended", "late-1")
    for key in ("recording_url", "recording_multi_channel_url"):
        del bare["call"][key]
    first = send(client, integration, bare).get_json()
    [call] = calls(db)
    assert call["recording_source"] is None and call["audio_branch"] == "not_applicable"
    _finish(db, first["call_id"])
    later = send(client, integration, pf.retell_event("call_analyzed", "late-1")).get_json()
    assert later["status"] == "updated" and later["call_id"] == first["call_id"]
    [call] = calls(db)
    assert call["analysis_status"] == "pending" and call["analysis_run"] == 2 and call["audio_branch"] == "pending"
    assert call["recording_source"]["kind"] == "url"
    assert db.execute("SELECT run FROM analysis_runs").fetchall() == [{"run": 1}]
    # once it has its recording, a duplicate changes nothing more
    _finish(db, first["call_id"])
    send(client, integration, pf.retell_event("call_analyzed", "late-1"))
    assert calls(db)[0]["analysis_status"] == "computed" and calls(db)[0]["analysis_run"] == 2


def test_elevenlabs_audio_after_the_call_gave_up_waiting_brings_a_new_run(client, tenant, db):
    integration = create(client, tenant, platform="elevenlabs")
    made = send(client, integration, pf.elevenlabs_transcription("late-audio")).get_json()
    _finish(db, made["call_id"], "failed")  # its fetch retries ran out before the audio came
    audio = send(client, integration, pf.elevenlabs_audio("late-audio", b"ID3-late")).get_json()
    assert audio == {"status": "stored", "call_id": made["call_id"], "call_identifier": "late-audio"}
    [call] = calls(db)
    assert call["analysis_status"] == "pending" and call["analysis_run"] == 2 and call["audio_branch"] == "pending"


def test_erasing_a_platform_call_erases_its_audio_runs_and_deliveries(client, tenant, db, app):
    """Erasure (DELETE /calls/{id} and the retention sweep) takes what integrations, re-analysis
    and webhooks hang off a call: the platform's stored audio, earlier runs, deliveries and their
    attempts (docs/operations.md#erasure-and-retention); the integration and the endpoint stay."""
    from app.db import webhooks as webhooks_db
    from app.service import admin
    from app.service.erasure import erase_expired

    storage = app.extensions["callscope"].storage
    hook = client.post("/api/public/v1/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers=tenant.headers)
    integration = create(client, tenant, platform="elevenlabs")
    keys = {}
    for name in ("by-request", "by-retention"):
        call_id = send(client, integration, pf.elevenlabs_transcription(name)).get_json()["call_id"]
        _finish(db, call_id, "failed")  # writes a delivery; the audio that comes next brings a second run
        send(client, integration, pf.elevenlabs_audio(name, b"ID3-" + name.encode()))
        [delivery] = db.execute("SELECT id FROM webhook_deliveries WHERE call_id = %s", (call_id,)).fetchall()
        webhooks_db.record_attempt(db, delivery["id"], 500, "the endpoint answered 500", 12, False)
        db.commit()
        keys[call_id] = db.execute("SELECT recording_source->>'key' AS k FROM calls WHERE id = %s",
                                   (call_id,)).fetchone()["k"]
        assert storage.exists(keys[call_id])

    def left(call_id: int) -> dict:
        found = {table: db.execute(f"SELECT count(*) AS n FROM {table} WHERE call_id = %s",
                                   (call_id,)).fetchone()["n"]
                 for table in ("analysis_runs", "webhook_deliveries", "erasures")}
        found["webhook_attempts"] = db.execute(  # no attempt outlives its delivery (a foreign key)
            "SELECT count(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id"
            " WHERE d.call_id = %s", (call_id,)).fetchone()["n"]
        found["calls"] = db.execute("SELECT count(*) AS n FROM calls WHERE id = %s", (call_id,)).fetchone()["n"]
        db.commit()
        return found

    by_request, by_retention = keys
    assert left(by_request) == {"analysis_runs": 1, "webhook_deliveries": 1, "erasures": 0,
                                "webhook_attempts": 1, "calls": 1}
    assert client.delete(f"/api/public/v1/calls/{by_request}", headers=tenant.headers).status_code == 204
    assert set(left(by_request).values()) == {0} and not storage.exists(keys[by_request])
    assert left(by_retention)["calls"] == 1 and storage.exists(keys[by_retention])  # the other call untouched

    admin.set_retention(db, tenant.workspace_id, 1)
    db.execute("UPDATE calls SET created_at = now() - interval '2 days' WHERE id = %s", (by_retention,))
    db.commit()
    deps = app.extensions["callscope"]
    assert erase_expired(deps.pool, deps.storage) == {"erased": 1, "recordings_pending": 0}
    assert set(left(by_retention).values()) == {0} and not storage.exists(keys[by_retention])
    assert client.get(f"{URL}/{integration['id']}", headers=tenant.headers).status_code == 200
    assert client.get(f"/api/public/v1/webhooks/{hook.get_json()['id']}", headers=tenant.headers).status_code == 200

