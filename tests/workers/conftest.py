"""Fixtures of stage tests: stage functions called directly, with the real Postgres and fakes
for the broker (sent tasks are recorded, not published)."""
from __future__ import annotations

import ipaddress

import pytest

from app.auth import KeyCache
from app.db.pool import open_pool
from app.ratelimit import RateLimiter
from app.service import admin
from app.service.calls import submit_call
from app.service.deps import Deps
from app.storage import LocalStorage
from tests.conftest import make_settings
from workers.addresses import AddressPolicy
from workers.context import WorkerDeps
from workers.fetch import Downloader, FetchLimits
from workers.judges.llm import UnconfiguredJudge
from workers.judges.sandbox import Sandbox, SandboxConfig


class Sent:
    """Records sent tasks instead of publishing them (the stage under test is run by hand)."""

    def __init__(self):
        self.tasks: list[tuple[str, int]] = []
        self.queues: list[str | None] = []  # the queue each task was routed to

    def __call__(self, name, call_id, countdown=None, queue=None):
        self.tasks.append((name, call_id))
        self.queues.append(queue)


class NoQueue:
    """The stage tests publish nothing: the stage under test is run by hand."""


@pytest.fixture(scope="session")
def transcriber():
    """The bundled tiny English model, loaded once for the session (offline)."""
    from workers.asr.local import WhisperTranscriber

    return WhisperTranscriber("bundled", threads=2)


@pytest.fixture()
def env(db, test_db_url, tmp_path, transcriber):
    settings = make_settings(test_db_url, "redis://127.0.0.1:1/0", storage_dir=str(tmp_path / "s"))
    pool = open_pool(test_db_url, 4, 3)
    storage = LocalStorage(str(tmp_path / "s"), settings.public_base_url, settings.secret_key)
    sent = Sent()
    downloader = Downloader(AddressPolicy([ipaddress.ip_network("127.0.0.0/8")], ports=None),
                            FetchLimits(connect_timeout=2, read_timeout=2, total_timeout=10))
    sandbox = Sandbox(SandboxConfig(timeout_seconds=2))
    sandbox.verify()
    wdeps = WorkerDeps(settings, pool, storage, downloader, sent, judge=UnconfiguredJudge(), sandbox=sandbox,
                        transcriber=transcriber)
    ws = admin.create_workspace(db, "stages")
    agent = admin.create_agent(db, ws["id"], "bot")
    api = Deps(settings, pool, NoQueue(), storage, RateLimiter(None, 0, 1), RateLimiter(None, 0, 1), KeyCache(0))

    def new_call(**fields):
        body = {"call_identifier": f"c{len(sent.tasks)}-{fields.get('label', '')}-{id(fields)}",
                "agent_id": agent["id"], "client_id": ws["id"], "observation_type": "voice",
                "call_direction": "inbound", **fields}
        return submit_call(api, ws["id"], body)["id"]

    new_call.workspace_id, new_call.agent_id, new_call.api = ws["id"], agent["id"], api
    yield wdeps, sent, new_call, db
    pool.close()
