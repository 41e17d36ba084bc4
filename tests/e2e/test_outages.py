"""Broker and database outages under load (docs/pipeline.md#delivery-guarantees, #the-sweeper): every call accepted with 202 ends
`computed`; the API answers only documented statuses (202, or 503 with the error body while
Postgres is down), never hangs past its timeout, and recovers by itself.

These tests stop and restart the suite's own Redis and Postgres (started by deploy/test.sh) and
always bring them back."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from tests.api.conftest import call_body
from tests.conftest import service_url
from tests.support.transcripts import CALL

pytestmark = [pytest.mark.services, pytest.mark.e2e]
URL = "/api/public/v1/calls"


class Load:
    """Submits calls from a thread until stopped; records every status and the slowest answer."""

    def __init__(self, app, tenant):
        self.client, self.tenant = app.test_client(), tenant
        self.accepted: list[int] = []
        self.statuses: dict[int, int] = {}
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            body = call_body(self.tenant, call_identifier=f"out-{uuid.uuid4().hex[:12]}", transcript=CALL)
            started = time.monotonic()
            response = self.client.post(URL, json=body, headers=self.tenant.headers)
            self.slowest = max(self.slowest, time.monotonic() - started)
            self.statuses[response.status_code] = self.statuses.get(response.status_code, 0) + 1
            if response.status_code == 202:
                self.accepted.append(response.get_json()["id"])
            else:
                assert response.get_json()["error"]["code"]  # the error body, even now
            time.sleep(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)


def wait_all(app, tenant, call_ids, worker, timeout: float) -> list[str]:
    """Final statuses of the calls, polling under one deadline while supervising the worker:
    a worker that exits (kombu can crash on a broker reconnect) is started again, as any
    process supervisor would, and the restart is counted in the test's report."""
    client, deadline = app.test_client(), time.monotonic() + timeout
    statuses: dict[int, str] = {}
    while time.monotonic() < deadline and len(statuses) < len(call_ids):
        worker.supervise()
        for call_id in call_ids:
            if call_id not in statuses:
                response = client.get(f"{URL}/{call_id}", headers=tenant.headers)
                assert response.status_code == 200, (call_id, response.status_code, response.get_json())
                status = response.get_json()["analysis_status"]
                if status != "pending":
                    statuses[call_id] = status
        time.sleep(0.5)
    return [statuses.get(call_id, "pending") for call_id in call_ids]


def redis_port() -> int:
    return urlsplit(service_url("BROKER_URL")).port


def test_redis_restart_loses_no_accepted_call(e2e_app, worker, e2e_tenant):
    port = redis_port()
    state = Path(os.environ["CALLSCOPE_TEST_STATE"]) / "redis"
    with Load(e2e_app, e2e_tenant) as load:
        time.sleep(1.0)
        redis.Redis(port=port).shutdown(nosave=True)  # queued tasks are lost with it
        try:
            time.sleep(3.0)
        finally:  # the rest of the suite needs its broker back, whatever happens here
            subprocess.run(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--daemonize", "yes",
                            "--dir", str(state), "--pidfile", str(state / "redis.pid"), "--logfile",
                            str(state / "redis.log"), "--maxmemory-policy", "noeviction", "--appendonly", "no",
                            "--save", ""], check=True)
        time.sleep(2.0)
    assert set(load.statuses) == {202}, load.statuses  # the database, not Redis, is the record
    assert load.slowest < 10, f"a POST took {load.slowest:.1f} s while Redis was down"
    restarts_before = worker.restarts
    ended = wait_all(e2e_app, e2e_tenant, load.accepted, worker, timeout=180)
    print(f"\nRedis restart: {len(load.accepted)} accepted, {ended.count('computed')} computed, "
          f"slowest POST {load.slowest:.2f} s, worker restarted by the supervisor "
          f"{worker.restarts - restarts_before} time(s)")
    assert ended.count("computed") == len(load.accepted)


def pg_ctl(*args: str) -> None:
    data = Path(os.environ["CALLSCOPE_TEST_STATE"]) / "pg"
    binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
    command = [str(binary), "-D", str(data), "-w", *args]
    if os.geteuid() == 0:
        command = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(command)]
    subprocess.run(command, check=True, capture_output=True)


@pytest.mark.skipif(not shutil.which("su"), reason="needs su to run pg_ctl as postgres")
def test_postgres_restart_answers_503_then_recovers(e2e_app, worker, e2e_tenant):
    port = urlsplit(service_url("DATABASE_URL")).port
    options = f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + str(
        Path(os.environ["CALLSCOPE_TEST_STATE"]) / "pg") + " -c fsync=off -c max_connections=200"
    log = str(Path(os.environ["CALLSCOPE_TEST_STATE"]) / "pg" / "server.log")
    with Load(e2e_app, e2e_tenant) as load:
        time.sleep(1.0)
        pg_ctl("-m", "fast", "stop")
        try:
            time.sleep(4.0)
        finally:  # the rest of the suite needs its database back, whatever happens here
            pg_ctl("-l", log, "-o", f"'{options}'", "start")
        time.sleep(4.0)
    assert set(load.statuses) <= {202, 503}, load.statuses
    assert load.statuses.get(503, 0) > 0 and load.statuses.get(202, 0) > 0
    assert load.slowest < 10, f"a POST took {load.slowest:.1f} s while Postgres was down"
    recovered = e2e_app.test_client().post(URL, json=call_body(e2e_tenant, call_identifier=f"after-{uuid.uuid4().hex[:8]}",
                                                               transcript=CALL), headers=e2e_tenant.headers)
    assert recovered.status_code == 202
    ended = wait_all(e2e_app, e2e_tenant, load.accepted, worker, timeout=180)
    print(f"\nPostgres restart: {load.statuses}, slowest POST {load.slowest:.2f} s, "
          f"{ended.count('computed')}/{len(load.accepted)} accepted calls computed")
    assert ended.count("computed") == len(load.accepted)
