"""The queue layout (docs/pipeline.md#queues) with a real Redis broker and the Procfile's own
worker profiles: a task queued under the old single-queue layout is still consumed after the
upgrade, and each stage of the call then goes to the worker kind of its queue."""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import psycopg
import pytest
import redis
from celery import Celery

from app.queue import ANALYZE_TASK, CONTROL_QUEUE, JUDGE_QUEUE, LEGACY_QUEUE
from tests.api.conftest import call_body
from tests.e2e.conftest import _start, _stop, isolated_stack, wait_for_final

pytestmark = [pytest.mark.services, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]


def procfile_worker(name: str, env: dict, logs: Path):
    """Start the Procfile's `name` entry as it is written (this interpreter's celery)."""
    line = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith(f"{name}:"))
    argv = [word for word in shlex.split(line.partition(":")[2]) if "=" not in word or word.startswith("--")]
    assert argv[0] == "celery"
    return _start([sys.executable, "-m", *argv], env, logs / f"{name}.log", "ready.")


def wait_until(check, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout}s: {check.__doc__}")
        time.sleep(0.2)


def test_a_task_queued_under_the_old_layout_is_consumed_and_the_call_continues_on_the_new_queues(e2e_env, tmp_path):
    stack = isolated_stack(e2e_env, "legacy_queue", 10)
    client, tenant, env = stack.app.test_client(), stack.tenant, stack.env
    broker = redis.Redis.from_url(env["CALLSCOPE_BROKER_URL"])
    response = client.post("/api/public/v1/calls", json=call_body(tenant, call_identifier="queued-before-upgrade"),
                           headers=tenant.headers)
    assert response.status_code == 202
    call_id = response.get_json()["id"]
    # The call as the old web process queued it: the new layout's message (published by the
    # app's outbox relay) is dropped, and the old layout's is published the way it was — no
    # declared queues, every task to `calls`.
    def relayed() -> bool:
        """the relay published the call's task to the control queue"""
        return broker.llen(CONTROL_QUEUE) == 1

    wait_until(relayed)
    broker.delete(CONTROL_QUEUE)
    old = Celery("callscope-before-the-split", broker=env["CALLSCOPE_BROKER_URL"])
    old.send_task(ANALYZE_TASK, args=[call_id], queue=LEGACY_QUEUE)
    old.close()
    assert broker.llen(LEGACY_QUEUE) == 1

    control = procfile_worker("worker-control", env, tmp_path)
    judge = None
    try:
        def code_judges_queued() -> bool:
            """the control worker ran analyze and the transcript metrics, and the join queued the code judges"""
            return broker.llen(JUDGE_QUEUE) == 1

        wait_until(code_judges_queued)
        assert broker.llen(LEGACY_QUEUE) == 0
        with psycopg.connect(env["CALLSCOPE_DATABASE_URL"]) as conn:
            row = conn.execute("SELECT analysis_status, transcript_branch FROM calls WHERE id = %s",
                               (call_id,)).fetchone()
        assert row == ("pending", "done")  # waits for the code-judge worker, which is not running yet
        judge = procfile_worker("worker-judge", env, tmp_path)
        call = wait_for_final(client, tenant, call_id)
        assert call["analysis_status"] == "computed", call
    finally:
        _stop(control)
        if judge is not None:
            _stop(judge)
