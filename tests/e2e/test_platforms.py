"""Platform events replayed over real HTTP to a running app, analysed by the real worker, and
announced to a local receiver through signed webhooks (docs/integrations.md, docs/webhooks.md)."""
from __future__ import annotations

import threading
import time
import uuid

import pytest
import requests
from werkzeug.serving import make_server

from app.db.pool import connect
from app.service import admin
from tests.api.conftest import Tenant
from tests.e2e.conftest import VAPI_API_KEY, wait_for_final
from tests.support import platforms as pf
from tests.support.audio import wav_bytes
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "platform-signing-secret-0123456789"


@pytest.fixture(scope="module")
def served(e2e_app, worker):
    """The app behind a real HTTP server on 127.0.0.1 (the platforms call it over the network)."""
    server = make_server("127.0.0.1", 0, e2e_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture()
def tenant(e2e_env, e2e_settings) -> Tenant:
    """A workspace of its own: webhook endpoints hear only this test's calls."""
    name = f"platforms-{uuid.uuid4().hex[:8]}"
    with connect(e2e_env["CALLSCOPE_DATABASE_URL"]) as conn:
        ws = admin.create_workspace(conn, name)
        agent = admin.create_agent(conn, ws["id"], "bot")
        token = admin.issue_token(conn, e2e_settings, ws["id"])
    return Tenant(ws["id"], agent["id"], token["key_id"], token["token"])


@pytest.fixture(scope="module")
def receiver():
    with WebhookReceiver() as server:
        yield server


def integrate(served: str, tenant: Tenant, platform: str, **fields) -> dict:
    body = {"platform": platform, "name": platform, "signing_secret": SECRET, "default_agent_id": tenant.agent_id,
            **fields}
    response = requests.post(f"{served}/api/public/v1/integrations", json=body, headers=tenant.headers, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def post_event(integration: dict, served: str, payload: dict) -> requests.Response:
    body = pf.encode(payload)
    headers = {"Content-Type": "application/json", **pf.SIGNERS[integration["platform"]](SECRET, body)}
    # the events_url shown carries CALLSCOPE_PUBLIC_BASE_URL; the test app listens elsewhere
    path = integration["events_url"].split("/api/public/v1", 1)[1]
    return requests.post(f"{served}/api/public/v1{path}", data=body, headers=headers, timeout=10)


def final(e2e_app, tenant: Tenant, call_id: int) -> dict:
    return wait_for_final(e2e_app.test_client(), tenant, call_id, timeout=90)


@pytest.mark.parametrize("older", [False, True])
def test_vapi_report_fetches_the_private_recording_through_the_api(served, e2e_app, tenant, platform_stand_in, older):
    call_id = f"vapi-{uuid.uuid4().hex[:10]}"
    platform_stand_in.audio[call_id] = wav_bytes(seconds=3.0, rate=8000)
    integration = integrate(served, tenant, "vapi", api_key=VAPI_API_KEY)
    answer = post_event(integration, served, pf.vapi_report(call_id, older=older))
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    call = final(e2e_app, tenant, answer.json()["call_id"])
    assert call["analysis_status"] == "computed", call
    assert call["call_identifier"] == call_id and call["duration_seconds"] == 33
    assert call["recording"]["channels"] == 2 and call["transcript_source"] == "provided"
    assert call["customer_number"] == "+15550100" and call["call_end_reason"] == "customer-ended-call"
    # the API was asked with the key; the signed URL it redirected to never saw the key
    hits = [(path.split("?")[0], auth) for path, auth in platform_stand_in.log if call_id in path]
    assert hits == [(f"/call/{call_id}/stereo-recording", f"Bearer {VAPI_API_KEY}"), (f"/signed/{call_id}", None)]


@pytest.mark.parametrize("older", [False, True])
def test_retell_call_ended_then_analyzed_is_one_computed_call(served, e2e_app, tenant, platform_stand_in, older):
    call_id = f"retell-{uuid.uuid4().hex[:10]}"
    platform_stand_in.audio[call_id] = wav_bytes(seconds=3.0, rate=8000)
    url = f"{platform_stand_in.base_url}/retell/{call_id}?Expires=1764756400&Signature=abc"
    integration = integrate(served, tenant, "retell")
    ended = post_event(integration, served, pf.retell_event("call_ended", call_id, recording_url=url, older=older))
    again = post_event(integration, served, pf.retell_event("call_ended", call_id, recording_url=url, older=older))
    analyzed = post_event(integration, served, pf.retell_event("call_analyzed", call_id, recording_url=url, older=older))
    assert [r.json()["status"] for r in (ended, again, analyzed)] == ["accepted", "updated", "updated"]
    assert len({r.json()["call_id"] for r in (ended, again, analyzed)}) == 1
    call = final(e2e_app, tenant, ended.json()["call_id"])
    assert call["analysis_status"] == "computed", call
    assert call["call_direction"] == "outbound" and call["customer_number"] == "+15550222"
    assert call["recording"]["channels"] == 2 and call["metadata"]["platform"]["analysis"]["call_successful"] is True
    listed = requests.get(f"{served}/api/public/v1/calls", headers=tenant.headers, timeout=10).json()
    assert listed["total"] == 1


def test_elevenlabs_transcription_and_audio_in_either_order(served, e2e_app, tenant):
    integration = integrate(served, tenant, "elevenlabs")
    audio = wav_bytes(seconds=3.0, rate=8000, channels=1)
    first, second = f"el-{uuid.uuid4().hex[:8]}", f"el-{uuid.uuid4().hex[:8]}"
    # transcript first, audio a moment later (the worker waits for it); then audio first
    made = post_event(integration, served, pf.elevenlabs_transcription(first))
    assert post_event(integration, served, pf.elevenlabs_audio(first, audio)).json()["status"] == "stored"
    assert post_event(integration, served, pf.elevenlabs_audio(second, audio)).status_code == 200
    later = post_event(integration, served, pf.elevenlabs_transcription(second))
    for answer in (made, later):
        call = final(e2e_app, tenant, answer.json()["call_id"])
        assert call["analysis_status"] == "computed", call
        assert call["recording"]["channels"] == 1 and call["metadata"]["platform"]["recording"] == "mono_fallback"
        assert call["call_end_reason"] == "Client disconnected"


def _deliveries(served, tenant, webhook_id) -> list[dict]:
    response = requests.get(f"{served}/api/public/v1/webhooks/{webhook_id}/deliveries", headers=tenant.headers,
                            timeout=10)
    return response.json()["items"]


def _wait(predicate, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_signed_event_to_computed_to_verified_webhooks(served, e2e_app, tenant, platform_stand_in, receiver):
    """One call, three endpoints: one answers at once, one fails twice then answers, one never answers."""
    hooks = {}
    for path in ("/ok", "/fail/2", "/never"):
        response = requests.post(f"{served}/api/public/v1/webhooks", json={"url": receiver.base_url + path},
                                 headers=tenant.headers, timeout=10)
        hooks[path] = response.json()
        receiver.secrets.append(response.json()["secret"])
    call_id = f"vapi-{uuid.uuid4().hex[:10]}"
    platform_stand_in.audio[call_id] = wav_bytes(seconds=3.0, rate=8000)
    integration = integrate(served, tenant, "vapi", api_key=VAPI_API_KEY)
    accepted = post_event(integration, served, pf.vapi_report(call_id)).json()
    call = final(e2e_app, tenant, accepted["call_id"])
    assert call["analysis_status"] == "computed"

    ok = _wait(lambda: [e for e in receiver.received if e["path"] == "/ok"])
    assert len(ok) == 1 and ok[0]["verified"] and ok[0]["payload"]["type"] == "call.computed"
    assert ok[0]["payload"]["data"]["id"] == call["id"] and ok[0]["payload"]["data"]["call_identifier"] == call_id

    flaky = _wait(lambda: (lambda got: got if len(got) == 3 else None)(
        [e for e in receiver.received if e["path"] == "/fail/2"]))
    assert len({e["id"] for e in flaky}) == 1 and all(e["verified"] for e in flaky)
    [delivery] = _wait(lambda: [d for d in _deliveries(served, tenant, hooks["/fail/2"]["id"])
                                if d["status"] == "delivered"])
    assert [a["status_code"] for a in delivery["attempt_log"]] == [503, 503, 204]
    assert delivery["message_id"] == flaky[0]["id"]

    shown = _wait(lambda: (lambda hook: hook if not hook["enabled"] else None)(requests.get(
        f"{served}/api/public/v1/webhooks/{hooks['/never']['id']}", headers=tenant.headers, timeout=10).json()), 60)
    assert "No delivery succeeded" in shown["disabled_reason"] and "target_unreachable" in shown["disabled_reason"]
    [given_up] = _deliveries(served, tenant, hooks["/never"]["id"])
    assert given_up["status"] == "failed" and given_up["attempts"] >= 2
    assert all(a["status_code"] is None and "target_unreachable" in a["error"] for a in given_up["attempt_log"])

    # a manual redelivery of the delivered event: same webhook-id, once more, marked manual
    before = len([e for e in receiver.received if e["path"] == "/ok"])
    [done] = _deliveries(served, tenant, hooks["/ok"]["id"])
    redo = requests.post(f"{served}/api/public/v1/webhooks/{hooks['/ok']['id']}/deliveries/{done['id']}/redeliver",
                         headers=tenant.headers, timeout=10)
    assert redo.status_code == 202
    again = _wait(lambda: [e for e in receiver.received if e["path"] == "/ok"][before:])
    assert again[0]["id"] == done["message_id"] and again[0]["verified"]
    log = _wait(lambda: [d for d in _deliveries(served, tenant, hooks["/ok"]["id"]) if len(d["attempt_log"]) == 2])
    assert log[0]["attempt_log"][1]["manual"] is True


def test_rotation_signs_with_both_secrets(served, e2e_app, tenant, receiver):
    created = requests.post(f"{served}/api/public/v1/webhooks", json={"url": receiver.base_url + "/ok"},
                            headers=tenant.headers, timeout=10).json()
    rotated = requests.post(f"{served}/api/public/v1/webhooks/{created['id']}/rotate-secret",
                            headers=tenant.headers, timeout=10).json()
    receiver.secrets.append(rotated["secret"])
    body = {"call_identifier": f"rot-{uuid.uuid4().hex[:8]}", "agent_id": tenant.agent_id,
            "client_id": tenant.workspace_id, "transcript": pf.CALL}
    call_id = requests.post(f"{served}/api/public/v1/calls", json=body, headers=tenant.headers, timeout=10).json()["id"]
    final(e2e_app, tenant, call_id)
    [got] = _wait(lambda: [e for e in receiver.received if e["payload"]["data"]["id"] == call_id])
    assert len(got["signatures"]) == 2
    # a receiver that still has only the old secret, and one that has switched, both verify
    assert WebhookReceiver.verifies(created["secret"], got["body"], got["headers"])
    assert WebhookReceiver.verifies(rotated["secret"], got["body"], got["headers"])


def test_reported_latency_sits_next_to_the_measured_one(served, e2e_app, tenant):
    """Transcript timings (no recording fetched): five answered turns measured, five reported by Vapi."""
    integration = integrate(served, tenant, "vapi", fetch_recordings=False)
    accepted = post_event(integration, served, pf.vapi_report(f"lat-{uuid.uuid4().hex[:8]}")).json()
    call = final(e2e_app, tenant, accepted["call_id"])
    latency = next(m for m in call["standard_metrics"] if m["metric_key"] == "latency_ms")["result_data"]
    reported = latency["reported"]
    assert reported["matched_by"] == "order" and reported["source"].startswith("vapi")
    assert [(t["measured_ms"], t["reported_ms"], t["gap_ms"]) for t in reported["turns"]] == [
        (900, 1020, -120), (2500, 1020, 1480), (300, 1020, -720), (600, 1020, -420), (500, 1020, -520)]
    assert reported["summary"]["average_gap_ms"] == 960 - 1020 and reported["summary"]["turns_measured_slower"] == 1


def test_a_webhook_into_a_private_network_is_refused_without_dialling(served, e2e_app, tenant):
    """The worker runs confined to loopback: 10.x is refused by the address policy, never dialled."""
    hook = requests.post(f"{served}/api/public/v1/webhooks", json={"url": "http://10.20.30.40/hook"},
                         headers=tenant.headers, timeout=10).json()
    body = {"call_identifier": f"priv-{uuid.uuid4().hex[:8]}", "agent_id": tenant.agent_id,
            "client_id": tenant.workspace_id, "transcript": pf.CALL}
    call_id = requests.post(f"{served}/api/public/v1/calls", json=body, headers=tenant.headers, timeout=10).json()["id"]
    final(e2e_app, tenant, call_id)
    [delivery] = _wait(lambda: [d for d in _deliveries(served, tenant, hook["id"]) if d["attempt_log"]])
    attempt = delivery["attempt_log"][0]
    assert attempt["status_code"] is None and attempt["error"].startswith("target_forbidden_address")
