"""A poison call — its stage kills the worker process every time — must not be redelivered
forever (late acks + reject on worker lost would): it is given up as `worker_lost` after the
configured number of deliveries, while other calls keep flowing."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import redis

from app import create_app
from app.db.pool import connect
from app.service import admin
from tests.api.conftest import Tenant, call_body
from tests.conftest import create_database, make_settings, service_url
from tests.e2e.conftest import _start, _stop, wait_for_final
from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer

pytestmark = [pytest.mark.services, pytest.mark.e2e]


def kill_pool_children(main_pid: int) -> None:
    """What the OOM killer does to a runaway stage: SIGKILL the pool processes, not the main one."""
    children = subprocess.run(["pgrep", "-P", str(main_pid)], capture_output=True, text=True).stdout.split()
    for pid in children:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_poison_call_ends_worker_lost_and_others_flow(e2e_env, tmp_path):
    broker = service_url("BROKER_URL").rsplit("/", 1)[0] + "/4"
    redis.Redis.from_url(broker).flushdb()
    env = {**e2e_env, "CALLSCOPE_DATABASE_URL": create_database("callscope_poison"), "CALLSCOPE_BROKER_URL": broker,
           "CALLSCOPE_MAX_STAGE_DELIVERIES": "3"}
    settings = make_settings(env["CALLSCOPE_DATABASE_URL"], broker, **{
        k.removeprefix("CALLSCOPE_").lower(): v for k, v in env.items()
        if k in ("CALLSCOPE_STORAGE", "CALLSCOPE_S3_BUCKET", "CALLSCOPE_S3_ENDPOINT_URL",
                 "CALLSCOPE_S3_ACCESS_KEY_ID", "CALLSCOPE_S3_SECRET_ACCESS_KEY")})
    app = create_app(settings)
    app.extensions["callscope"].storage.ensure_bucket()
    with connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
        ws = admin.create_workspace(conn, "poison")
        agent = admin.create_agent(conn, ws["id"], "bot")
        token = admin.issue_token(conn, settings, ws["id"])
    tenant = Tenant(ws["id"], agent["id"], token["key_id"], token["token"])
    client = app.test_client()
    celery = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]
    worker = _start(celery + ["worker", "-Q", "calls", "-c", "2", "-n", "poison@%h", "--without-mingle",
                              "--without-gossip"], env, tmp_path / "worker.log", "ready.")
    try:
        with RecordingServer() as recordings:
            recordings.add("poison.wav", wav_bytes(1.0))
            recordings.add("fine.wav", wav_bytes(1.0))
            kills = []
            recordings.hooks["/files/poison.wav"] = lambda: (kills.append(1), kill_pool_children(worker.pid))

            def submit(url):
                body = call_body(tenant, call_identifier=f"p-{uuid.uuid4().hex[:10]}", recording_url=url)
                response = client.post("/api/public/v1/calls", json=body, headers=tenant.headers)
                assert response.status_code == 202
                return response.get_json()["id"]

            poison = submit(recordings.url("/files/poison.wav"))
            healthy = [submit(recordings.url("/files/fine.wav")) for _ in range(5)]
            poisoned = wait_for_final(client, tenant, poison, timeout=120)
            assert poisoned["analysis_status"] == "failed"
            assert poisoned["failure"]["code"] == "worker_lost", poisoned["failure"]
            assert len(kills) == 3  # bounded: exactly the configured deliveries, then given up
            for call_id in healthy:
                assert wait_for_final(client, tenant, call_id, timeout=60)["analysis_status"] == "computed"
            print(f"\npoison call: worker killed {len(kills)} times, then failed worker_lost; 5/5 others computed")
            time.sleep(1)
            assert worker.poll() is None  # the worker itself survives its children's deaths
    finally:
        _stop(worker)
        app.extensions["callscope"].pool.close()
