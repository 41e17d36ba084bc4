"""API tests: the Flask test client against the real Postgres (and the real Redis broker, on a
database index no worker listens to)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from app import create_app
from app.service import admin
from tests.conftest import make_settings, service_url

pytestmark = pytest.mark.services


@pytest.fixture()
def settings(test_db_url, tmp_path):
    broker = service_url("BROKER_URL").rsplit("/", 1)[0] + "/1"
    return make_settings(test_db_url, broker, storage_dir=str(tmp_path / "storage"))


@pytest.fixture(autouse=True)
def fresh_rate_limits(settings):
    import redis

    client = redis.Redis.from_url(settings.broker_url)
    for key in client.scan_iter("callscope:rate:*"):
        client.delete(key)


@pytest.fixture()
def app(settings, db):
    application = create_app(settings)
    yield application
    application.extensions["callscope"].pool.close()


@pytest.fixture()
def client(app):
    return app.test_client()


@dataclass
class Tenant:
    workspace_id: int
    agent_id: int
    key_id: str
    token: str

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def make_tenant(db, settings, name: str) -> Tenant:
    ws = admin.create_workspace(db, name)
    agent = admin.create_agent(db, ws["id"], f"{name} agent")
    token = admin.issue_token(db, settings, ws["id"])
    return Tenant(ws["id"], agent["id"], token["key_id"], token["token"])


@pytest.fixture()
def tenant(db, settings) -> Tenant:
    return make_tenant(db, settings, "acme")


@pytest.fixture()
def other_tenant(db, settings) -> Tenant:
    return make_tenant(db, settings, "globex")


def store_recording(app, db, tenant: Tenant, call_id: int, info: dict | None = None) -> str:
    """Put a small WAV in the app's storage as the call's recording (what the worker's fetch
    stage does) and record it on the call; returns its key."""
    import tempfile

    from app.db.pipeline import set_recording
    from app.storage import recording_key

    key = recording_key(tenant.workspace_id, call_id, "wav")
    with tempfile.NamedTemporaryFile(suffix=".wav") as src:
        src.write(b"RIFF0000WAVEdata")
        src.flush()
        app.extensions["callscope"].storage.put_file(key, src.name, "audio/wav")
    set_recording(db, call_id, key, info or {"format": "wav"})
    db.commit()
    return key


def call_body(tenant: Tenant, **fields) -> dict:
    body = {
        "call_identifier": "call-1",
        "agent_id": tenant.agent_id,
        "client_id": tenant.workspace_id,
        "transcript": [
            {"role": "AI Assistant", "content": "Hello, how can I help?", "start_time": 0.4, "end_time": 2.0},
            {"role": "User", "content": "I need to reschedule", "start_time": 2.6, "end_time": 4.0},
            {"role": "AI Assistant", "content": "Sure thing", "start_time": 4.8, "end_time": 6.0},
        ],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}
