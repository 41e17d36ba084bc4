"""GET /calls/{id}, GET /calls and PATCH /calls/{id}."""
import re

import pytest

from tests.api.conftest import call_body, store_recording

URL = "/api/public/v1/calls"


def submit(client, tenant, **fields):
    response = client.post(URL, json=call_body(tenant, **fields), headers=tenant.headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def test_get_by_id_and_by_identifier(client, tenant):
    call_id = submit(client, tenant, call_identifier="crm-42")
    by_id = client.get(f"{URL}/{call_id}", headers=tenant.headers).get_json()
    by_ref = client.get(f"{URL}/crm-42", headers=tenant.headers).get_json()
    assert by_id == by_ref
    assert by_id["agent"] == {"id": tenant.agent_id, "name": "acme agent"}
    assert by_id["client_id"] == tenant.workspace_id
    assert by_id["recording_url"] is None and by_id["transcription_status"] == "not_applicable"
    assert by_id["call_success"] is None and by_id["failure"] is None


def test_digit_identifier_falls_back_to_identifier(client, tenant):
    call_id = submit(client, tenant, call_identifier="987654")
    assert client.get(f"{URL}/987654", headers=tenant.headers).get_json()["id"] == call_id


def test_other_workspace_sees_404_for_every_id_form(client, tenant, other_tenant):
    call_id = submit(client, tenant, call_identifier="secret-call")
    for ref in (str(call_id), "secret-call"):
        for method in ("get", "patch"):
            response = getattr(client, method)(f"{URL}/{ref}", headers=other_tenant.headers,
                                               **({"json": {"label": "x"}} if method == "patch" else {}))
            assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    assert client.get(URL, headers=other_tenant.headers).get_json()["total"] == 0


def test_list_filters_and_pagination(client, tenant):
    for i in range(5):
        submit(client, tenant, call_identifier=f"c{i}", label="even" if i % 2 == 0 else "odd",
               call_timestamp=f"2025-01-0{i + 1}T12:00:00+00:00",
               call_direction="outbound" if i == 4 else "inbound")
    page = client.get(f"{URL}?per_page=2", headers=tenant.headers).get_json()
    assert page["total"] == 5 and page["per_page"] == 2 and page["page"] == 1
    assert [c["call_identifier"] for c in page["items"]] == ["c4", "c3"]  # newest first
    assert "transcript" not in page["items"][0] and "standard_metrics" not in page["items"][0]
    page3 = client.get(f"{URL}?per_page=2&page=3", headers=tenant.headers).get_json()
    assert [c["call_identifier"] for c in page3["items"]] == ["c0"]
    even = client.get(f"{URL}?label=even", headers=tenant.headers).get_json()
    assert even["total"] == 3
    ranged = client.get(f"{URL}?from=2025-01-02T00:00:00Z&to=2025-01-03T23:00:00Z", headers=tenant.headers).get_json()
    assert [c["call_identifier"] for c in ranged["items"]] == ["c2", "c1"]
    assert client.get(f"{URL}?call_direction=outbound", headers=tenant.headers).get_json()["total"] == 1
    assert client.get(f"{URL}?analysis_status=computed", headers=tenant.headers).get_json()["total"] == 0
    assert client.get(f"{URL}?agent_id={tenant.agent_id}", headers=tenant.headers).get_json()["total"] == 5


@pytest.mark.parametrize("query,field", [("per_page=0", "per_page"), ("per_page=101", "per_page"),
                                         ("page=0", "page"), ("analysis_status=done", "analysis_status"),
                                         ("from=yesterday", "from"), ("colour=red", "colour"),
                                         ("call_success=maybe", "call_success")])
def test_list_rejects_bad_query(client, tenant, query, field):
    response = client.get(f"{URL}?{query}", headers=tenant.headers)
    assert response.status_code == 422 and field in response.get_json()["error"]["details"]


def test_patch_merges_metadata(client, tenant):
    call_id = submit(client, tenant, metadata={"keep": 1, "change": "a", "drop": True})
    response = client.patch(f"{URL}/{call_id}", headers=tenant.headers,
                            json={"metadata": {"change": "b", "drop": None, "new": [1, 2]}, "tag": "escalated"})
    assert response.status_code == 200
    assert response.get_json() == {"id": call_id, "call_identifier": "call-1", "analysis_status": "pending",
                                   "links": {"self": f"/api/public/v1/calls/{call_id}"}}
    call = client.get(f"{URL}/{call_id}", headers=tenant.headers).get_json()
    assert call["metadata"] == {"keep": 1, "change": "b", "new": [1, 2]}
    assert call["tag"] == "escalated"
    assert client.get(f"{URL}?tag=escalated", headers=tenant.headers).get_json()["total"] == 1


@pytest.mark.parametrize("body,field", [({"transcript": []}, "transcript"), ({"agent_id": 1}, "agent_id"),
                                        ({"label": 5}, "label"), ({"metadata": "x"}, "metadata")])
def test_patch_rejects_other_fields(client, tenant, body, field):
    call_id = submit(client, tenant)
    response = client.patch(f"{URL}/{call_id}", headers=tenant.headers, json=body)
    assert response.status_code == 422 and field in response.get_json()["error"]["details"]


def test_unknown_call_404(client, tenant):
    assert client.get(f"{URL}/404404", headers=tenant.headers).status_code == 404
    assert client.get(f"{URL}/nope", headers=tenant.headers).status_code == 404


def test_local_storage_recording_url_is_a_working_signed_link(app, client, db, tenant):
    from urllib.parse import urlsplit

    call_id = submit(client, tenant)
    store_recording(app, db, tenant, call_id, {"format": "wav", "codec": "pcm_s16le", "duration_seconds": 1.0,
                                               "channels": 2, "sample_rate": 8000, "bytes": 16})
    call = client.get(f"{URL}/{call_id}", headers=tenant.headers).get_json()
    link = urlsplit(call["recording_url"])
    assert call["recording"]["channels"] == 2
    response = client.get(f"{link.path}?{link.query}")  # no bearer token: the signature authorises
    assert response.status_code == 200 and response.data == b"RIFF0000WAVEdata"
    assert response.mimetype == "audio/wav"
    tampered = client.get(f"{link.path}?{link.query.replace('original.wav', 'original.mp3')}")
    assert tampered.status_code == 403 and tampered.get_json()["error"]["code"] == "forbidden"
    # a non-ASCII signature made hmac.compare_digest raise TypeError: a 500 (issue 16, finding 6)
    for signature in ("%C3%A9" * 64, "%E2%84%80", "%F0%9F%98%80"):
        query = re.sub(r"signature=[^&]*", f"signature={signature}", link.query)
        forged = client.get(f"{link.path}?{query}")
        assert forged.status_code == 403 and forged.get_json()["error"]["code"] == "forbidden"
