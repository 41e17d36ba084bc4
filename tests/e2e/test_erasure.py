"""Erasure end to end (docs/operations.md#erasure-and-retention): the real worker stores the
recording in S3, DELETE removes it (checked with boto3 against the S3 server itself), and beat's
retention sweep erases old calls in a real Celery beat + worker."""
from __future__ import annotations

import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from app.db.pool import connect
from app.service import admin
from tests.conftest import service_url
from tests.e2e.conftest import wait_for_final
from tests.e2e.test_pipeline import URL, submit
from tests.support.audio import wav_bytes
from tests.support.transcripts import CALL


@pytest.fixture()
def client(e2e_app, worker):
    return e2e_app.test_client()


@pytest.fixture(scope="module")
def s3(e2e_env):
    return boto3.client("s3", endpoint_url=service_url("S3_ENDPOINT"), region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def stored_keys(s3, env, workspace_id: int, call_id: int) -> list[str]:
    listing = s3.list_objects_v2(Bucket=env["CALLSCOPE_S3_BUCKET"], Prefix=f"recordings/{workspace_id}/{call_id}/")
    return [item["Key"] for item in listing.get("Contents", [])]


def analysed_recording_call(client, tenant, recordings) -> dict:
    url = recordings.add(f"{uuid.uuid4().hex}.wav", wav_bytes(seconds=1.0, rate=8000))
    call = wait_for_final(client, tenant, submit(client, tenant, recording_url=url, transcript=CALL))
    assert call["analysis_status"] == "computed", call
    return call


def test_delete_removes_the_s3_object_and_every_row(client, e2e_env, e2e_tenant, recordings, s3):
    call = analysed_recording_call(client, e2e_tenant, recordings)
    key = f"recordings/{e2e_tenant.workspace_id}/{call['id']}/original.wav"
    assert stored_keys(s3, e2e_env, e2e_tenant.workspace_id, call["id"]) == [key]

    assert client.delete(f"{URL}/{call['id']}", headers=e2e_tenant.headers).status_code == 204
    assert stored_keys(s3, e2e_env, e2e_tenant.workspace_id, call["id"]) == []
    with pytest.raises(ClientError) as gone:
        s3.head_object(Bucket=e2e_env["CALLSCOPE_S3_BUCKET"], Key=key)
    assert gone.value.response["Error"]["Code"] in ("404", "NoSuchKey")
    assert client.get(f"{URL}/{call['id']}", headers=e2e_tenant.headers).status_code == 404
    with connect(e2e_env["CALLSCOPE_DATABASE_URL"]) as conn:
        left = conn.execute(
            "SELECT (SELECT count(*) FROM metric_results WHERE call_id = %(id)s)"
            " + (SELECT count(*) FROM custom_results WHERE call_id = %(id)s)"
            " + (SELECT count(*) FROM call_status_history WHERE call_id = %(id)s)"
            " + (SELECT count(*) FROM stage_runs WHERE call_id = %(id)s)"
            " + (SELECT count(*) FROM erasures WHERE call_id = %(id)s) AS n", {"id": call["id"]}).fetchone()["n"]
    assert left == 0
    assert client.delete(f"{URL}/{call['id']}", headers=e2e_tenant.headers).status_code == 204  # idempotent


def test_beat_erases_calls_past_their_workspace_retention(client, e2e_env, e2e_tenant, recordings, s3):
    old = analysed_recording_call(client, e2e_tenant, recordings)
    recent = analysed_recording_call(client, e2e_tenant, recordings)
    with connect(e2e_env["CALLSCOPE_DATABASE_URL"]) as conn:
        conn.execute("UPDATE calls SET created_at = now() - interval '8 days' WHERE id = %s", (old["id"],))
        conn.commit()
        admin.set_retention(conn, e2e_tenant.workspace_id, 7)
    try:
        # beat runs the retention sweep every second here. The sweep deletes the call's rows, then
        # (after that commit) its recording, so the 404 may come a moment before the object goes
        def erased() -> bool:
            return (client.get(f"{URL}/{old['id']}", headers=e2e_tenant.headers).status_code == 404
                    and stored_keys(s3, e2e_env, e2e_tenant.workspace_id, old["id"]) == [])

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not erased():
            time.sleep(0.3)
        assert client.get(f"{URL}/{old['id']}", headers=e2e_tenant.headers).status_code == 404
        assert stored_keys(s3, e2e_env, e2e_tenant.workspace_id, old["id"]) == []
        assert client.get(f"{URL}/{recent['id']}", headers=e2e_tenant.headers).status_code == 200
        assert len(stored_keys(s3, e2e_env, e2e_tenant.workspace_id, recent["id"])) == 1
    finally:
        with connect(e2e_env["CALLSCOPE_DATABASE_URL"]) as conn:
            admin.set_retention(conn, e2e_tenant.workspace_id, None)
