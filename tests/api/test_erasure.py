"""DELETE /calls/{id} and the retention sweep (docs/operations.md#erasure-and-retention), with
local storage; the S3 path runs end to end in tests/e2e/test_erasure.py."""
from __future__ import annotations

import pytest

from app.errors import StorageUnavailable
from app.service import admin
from app.service.erasure import erase_call, erase_expired
from app.storage import recording_key
from tests.api.conftest import call_body, store_recording

URL = "/api/public/v1/calls"


def submit_with_recording(client, app, db, tenant, identifier: str) -> int:
    response = client.post(URL, json=call_body(tenant, call_identifier=identifier), headers=tenant.headers)
    call_id = response.get_json()["id"]
    store_recording(app, db, tenant, call_id)
    db.execute("INSERT INTO metric_results (call_id, metric_key, status) VALUES (%s, 'extra', 'computed')",
               (call_id,))
    db.commit()
    return call_id


def rows_of(db, call_id) -> dict:
    return {table: db.execute(f"SELECT count(*) AS n FROM {table} WHERE {column} = %s", (call_id,)).fetchone()["n"]
            for table, column in (("calls", "id"), ("metric_results", "call_id"), ("custom_results", "call_id"),
                                  ("call_status_history", "call_id"), ("erasures", "call_id"))}


def test_delete_erases_the_call_its_results_and_its_recording(client, app, db, tenant):
    call_id = submit_with_recording(client, app, db, tenant, "to-erase")
    storage = app.extensions["callscope"].storage
    key = recording_key(tenant.workspace_id, call_id, "wav")
    assert storage.exists(key) and rows_of(db, call_id)["metric_results"] > 0
    link = client.get(f"{URL}/{call_id}", headers=tenant.headers).get_json()["recording_url"]

    response = client.delete(f"{URL}/{call_id}", headers=tenant.headers)
    assert response.status_code == 204 and response.data == b""
    assert not storage.exists(key)
    assert rows_of(db, call_id) == {"calls": 0, "metric_results": 0, "custom_results": 0,
                                    "call_status_history": 0, "erasures": 0}
    assert client.get(f"{URL}/{call_id}", headers=tenant.headers).status_code == 404
    assert client.get(link.removeprefix("http://127.0.0.1:8000")).status_code == 404  # the old link: gone
    # idempotent: again by id, by identifier, and for a call that never existed
    for ref in (call_id, "to-erase", 999999, "never-was"):
        assert client.delete(f"{URL}/{ref}", headers=tenant.headers).status_code == 204


def test_delete_by_call_identifier(client, app, db, tenant):
    call_id = submit_with_recording(client, app, db, tenant, "by-name")
    assert client.delete(f"{URL}/by-name", headers=tenant.headers).status_code == 204
    assert rows_of(db, call_id)["calls"] == 0


def test_another_workspace_cannot_erase_a_call(client, app, db, tenant, other_tenant):
    call_id = submit_with_recording(client, app, db, tenant, "mine")
    assert client.delete(f"{URL}/{call_id}", headers=other_tenant.headers).status_code == 204  # says nothing
    assert rows_of(db, call_id)["calls"] == 1
    assert app.extensions["callscope"].storage.exists(recording_key(tenant.workspace_id, call_id, "wav"))
    assert client.delete(f"{URL}/{call_id}").status_code == 401


class StoreDown:
    """The recording store during an outage: every deletion fails (as boto3 would raise)."""

    def delete_prefix(self, prefix):
        raise ConnectionError("store unreachable")


def test_a_store_outage_is_503_and_the_sweep_finishes_the_erasure(app, client, db, tenant):
    call_id = submit_with_recording(client, app, db, tenant, "outage")
    deps = app.extensions["callscope"]
    with pytest.raises(StorageUnavailable):
        erase_call(deps.pool, StoreDown(), tenant.workspace_id, str(call_id))
    assert rows_of(db, call_id)["calls"] == 0 and rows_of(db, call_id)["erasures"] == 1  # rows gone, file pending
    assert deps.storage.exists(recording_key(tenant.workspace_id, call_id, "wav"))
    assert erase_expired(deps.pool, deps.storage) == {"erased": 0, "recordings_pending": 0}
    assert not deps.storage.exists(recording_key(tenant.workspace_id, call_id, "wav"))
    assert rows_of(db, call_id)["erasures"] == 0


def test_retention_erases_only_calls_older_than_their_workspace_period(app, client, db, tenant, other_tenant):
    deps = app.extensions["callscope"]
    old = submit_with_recording(client, app, db, tenant, "old")
    recent = submit_with_recording(client, app, db, tenant, "recent")
    elsewhere = submit_with_recording(client, app, db, other_tenant, "old-elsewhere")  # keeps calls for ever
    db.execute("UPDATE calls SET created_at = now() - interval '31 days' WHERE id IN (%s, %s)", (old, elsewhere))
    db.commit()
    assert erase_expired(deps.pool, deps.storage) == {"erased": 0, "recordings_pending": 0}  # no period set
    assert admin.set_retention(db, tenant.workspace_id, 30)["retention_days"] == 30
    assert erase_expired(deps.pool, deps.storage) == {"erased": 1, "recordings_pending": 0}
    assert [rows_of(db, c)["calls"] for c in (old, recent, elsewhere)] == [0, 1, 1]
    assert not deps.storage.exists(recording_key(tenant.workspace_id, old, "wav"))
    assert deps.storage.exists(recording_key(tenant.workspace_id, recent, "wav"))


def test_retention_periods_are_validated(db, tenant):
    from app.errors import NotFound, ValidationFailed

    with pytest.raises(ValidationFailed):
        admin.set_retention(db, tenant.workspace_id, 0)
    with pytest.raises(NotFound):
        admin.set_retention(db, 999999, 7)
    assert admin.set_retention(db, tenant.workspace_id, None)["retention_days"] is None
