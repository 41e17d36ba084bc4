"""End-to-end: the Flask app, a real Redis broker, a real Celery worker process and beat, S3
through boto3 against the local S3-compatible server, recordings served over local HTTP."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from app import create_app
from app.db.pool import connect
from app.service import admin
from tests.api.conftest import Tenant
from tests.conftest import JWT_KEYS, LOOPBACK_ONLY, SECRET, create_database, make_settings, service_url
from tests.support.fake_llm import FakeLLM
from tests.support.http_server import RecordingServer

pytestmark = [pytest.mark.services, pytest.mark.e2e]


# The fake LLM provider every e2e worker is configured with: it answers each metric by name.
E2E_LLM_ANSWERS = {"Greets the caller": (True, "opens with a greeting")}


@pytest.fixture(scope="session")
def fake_llm():
    with FakeLLM(answers=E2E_LLM_ANSWERS) as llm:
        yield llm


VAPI_API_KEY = "vapi-private-key-0123456789"


@pytest.fixture(scope="session")
def platform_stand_in():
    """Vapi's API and Retell's signed URLs, on 127.0.0.1 (tests/support/platforms.py)."""
    from tests.support.platforms import PlatformStandIn

    with PlatformStandIn(VAPI_API_KEY) as stand_in:
        yield stand_in


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory, fake_llm, platform_stand_in) -> dict:
    database = create_database("callscope_e2e")
    broker = service_url("BROKER_URL").rsplit("/", 1)[0] + "/2"
    redis.Redis.from_url(broker).flushdb()
    bucket = "callscope-e2e"
    return {
        "CALLSCOPE_DATABASE_URL": database,
        "CALLSCOPE_BROKER_URL": broker,
        "CALLSCOPE_JWT_KEYS": JWT_KEYS,
        "CALLSCOPE_SECRET_KEY": SECRET,
        "CALLSCOPE_STORAGE": "s3",
        "CALLSCOPE_S3_BUCKET": bucket,
        "CALLSCOPE_S3_ENDPOINT_URL": service_url("S3_ENDPOINT"),
        "CALLSCOPE_S3_ACCESS_KEY_ID": "testing",
        "CALLSCOPE_S3_SECRET_ACCESS_KEY": "testing",
        "CALLSCOPE_FETCH_NETWORKS": LOOPBACK_ONLY,
        "CALLSCOPE_FETCH_RETRIES": "2",
        "CALLSCOPE_RETRY_BACKOFF_SECONDS": "0.2",
        "CALLSCOPE_FETCH_READ_TIMEOUT_SECONDS": "2",
        "CALLSCOPE_STALE_AFTER_SECONDS": "4",
        "CALLSCOPE_SWEEP_INTERVAL_SECONDS": "1",
        "CALLSCOPE_RETENTION_INTERVAL_SECONDS": "1",
        "CALLSCOPE_MAX_ATTEMPTS": "20",
        "CALLSCOPE_LOG_LEVEL": "INFO",
        "CALLSCOPE_LLM_BASE_URL": fake_llm.base_url,
        "CALLSCOPE_LLM_MODEL": "fake-judge",
        "CALLSCOPE_VAPI_API_URL": platform_stand_in.base_url,
        # outbound webhooks on a compressed schedule: retries from 0.3 s, given up after 6 s
        "CALLSCOPE_WEBHOOK_RETRY_BASE_SECONDS": "0.3",
        "CALLSCOPE_WEBHOOK_RETRY_MAX_DELAY_SECONDS": "1",
        "CALLSCOPE_WEBHOOK_RETRY_WINDOW_SECONDS": "6",
        "CALLSCOPE_WEBHOOK_READ_TIMEOUT_SECONDS": "1",
        "CALLSCOPE_WEBHOOK_POLL_SECONDS": "0.3",
    }


def _start(args: list[str], env: dict, log: Path, ready_marker: str) -> subprocess.Popen:
    handle = open(log, "wb")  # noqa: SIM115 (the child process writes to it for its whole life)
    # its own process group, so a test can SIGKILL the worker with all its pool processes
    proc = subprocess.Popen(args, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
                            cwd=Path(__file__).resolve().parents[2], start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{args[3]} exited early:\n{log.read_text()[-3000:]}")
        if ready_marker in log.read_text(errors="replace"):
            return proc
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{args} did not become ready:\n{log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Processes(dict):
    """The worker and beat processes, with what a process supervisor (compose's restart policy,
    systemd, Kubernetes) would do when one exits: start it again, and count it."""

    def __init__(self, env: dict, logs: Path):
        super().__init__()
        self.env, self.logs, self.restarts = env, logs, 0
        self.celery = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]
        self["worker"] = self._worker()
        self["beat"] = _start(self.celery + ["beat", "-s", str(logs / "beat-schedule")], env,
                              logs / "beat.log", "beat")
        self["logs"] = logs

    def _worker(self) -> subprocess.Popen:
        return start_worker(self.env, self.logs, f"e2e{self.restarts}")

    def supervise(self) -> None:
        if self["worker"].poll() is not None:
            self.restarts += 1
            self["worker"] = self._worker()


@pytest.fixture(scope="session")
def worker(e2e_env, tmp_path_factory):
    """A real Celery worker (prefork, 2 processes) and beat, as separate OS processes."""
    procs = Processes(e2e_env, tmp_path_factory.mktemp("procs"))
    yield procs
    _stop(procs["beat"])
    _stop(procs["worker"])


_S3_SETTINGS = ("CALLSCOPE_STORAGE", "CALLSCOPE_S3_BUCKET", "CALLSCOPE_S3_ENDPOINT_URL",
                "CALLSCOPE_S3_ACCESS_KEY_ID", "CALLSCOPE_S3_SECRET_ACCESS_KEY")


def settings_for(env: dict):
    """The web side's settings for a worker environment (same database, broker and store).
    No rate limit: the tests poll hundreds of calls several times a second (the limiter has its
    own tests in tests/api/test_rate_limit.py). The outbox relay runs in the app, as in gunicorn."""
    return make_settings(env["CALLSCOPE_DATABASE_URL"], env["CALLSCOPE_BROKER_URL"], rate_limit_per_second="0",
                         outbox_relay="web",
                         **{k.removeprefix("CALLSCOPE_").lower(): v for k, v in env.items() if k in _S3_SETTINGS})


def start_worker(env: dict, logs: Path, name: str) -> subprocess.Popen:
    """A worker started without --queues, as the Procfile's `worker` (deploy/dev.sh): it consumes
    every queue app/queue.py declares, so every e2e test also proves that such a worker strands
    no task."""
    celery = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]
    return _start(celery + ["worker", "-c", "2", "-n", f"{name}@%h", "--without-mingle",
                            "--without-gossip"], env, logs / f"{name}.log", "ready.")


@dataclass
class Stack:
    env: dict
    app: object
    tenant: Tenant


def isolated_stack(e2e_env: dict, name: str, broker_index: int, **overrides: str) -> Stack:
    """A database, broker index, web app and tenant of their own, for a test that kills or
    starves workers without disturbing the session's."""
    broker = service_url("BROKER_URL").rsplit("/", 1)[0] + f"/{broker_index}"
    redis.Redis.from_url(broker).flushdb()
    env = {**e2e_env, "CALLSCOPE_DATABASE_URL": create_database(f"callscope_{name}"),
           "CALLSCOPE_BROKER_URL": broker, **overrides}
    settings = settings_for(env)
    app = create_app(settings)
    app.extensions["callscope"].storage.ensure_bucket()
    with connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
        ws = admin.create_workspace(conn, name)
        agent = admin.create_agent(conn, ws["id"], "bot")
        token = admin.issue_token(conn, settings, ws["id"])
    return Stack(env, app, Tenant(ws["id"], agent["id"], token["key_id"], token["token"]))


@pytest.fixture(scope="session")
def e2e_settings(e2e_env):
    return settings_for(e2e_env)


@pytest.fixture(scope="session")
def e2e_app(e2e_settings):
    application = create_app(e2e_settings)
    application.extensions["callscope"].storage.ensure_bucket()
    yield application
    application.extensions["callscope.relay"].stop()
    application.extensions["callscope"].pool.close()


@pytest.fixture(scope="session")
def e2e_tenant(e2e_env, e2e_settings) -> Tenant:
    with connect(e2e_env["CALLSCOPE_DATABASE_URL"]) as conn:
        ws = admin.create_workspace(conn, "e2e")
        agent = admin.create_agent(conn, ws["id"], "e2e agent")
        token = admin.issue_token(conn, e2e_settings, ws["id"])
    return Tenant(ws["id"], agent["id"], token["key_id"], token["token"])


@pytest.fixture(scope="session")
def recordings():
    with RecordingServer() as server:
        yield server


def wait_for_final(client, tenant: Tenant, call_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        call = client.get(f"/api/public/v1/calls/{call_id}", headers=tenant.headers).get_json()
        if call["analysis_status"] != "pending":
            return call
        time.sleep(0.2)
    raise AssertionError(f"call {call_id} still pending after {timeout}s: {call}")
