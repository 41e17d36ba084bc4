"""A poison call — its stage kills the worker process every time — must not be redelivered
forever (late acks + reject on worker lost would): it is given up as `worker_lost` after the
configured number of deliveries, while other calls keep flowing."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest

from tests.api.conftest import call_body
from tests.e2e.conftest import _stop, isolated_stack, start_worker, wait_for_final
from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer

pytestmark = [pytest.mark.services, pytest.mark.e2e]


def pid_connected_from(port: int, candidates: list[int]) -> int | None:
    """The process among `candidates` that owns the TCP socket with local port `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in list(f)[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    for pid in candidates:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").removeprefix("socket:[").rstrip("]") in inodes:
                    return pid
        except (FileNotFoundError, PermissionError):
            continue
    return None


def kill_the_fetching_child(main_pid: int, client_address) -> None:
    """What the OOM killer does to a runaway stage: SIGKILL the one pool process running it."""
    children = [int(p) for p in subprocess.run(["pgrep", "-P", str(main_pid)], capture_output=True,
                                               text=True).stdout.split()]
    pid = pid_connected_from(client_address[1], children)
    if pid is not None:
        os.kill(pid, signal.SIGKILL)


def test_poison_call_ends_worker_lost_and_others_flow(e2e_env, tmp_path):
    stack = isolated_stack(e2e_env, "poison", 4, CALLSCOPE_MAX_STAGE_DELIVERIES="3")
    app, tenant, client = stack.app, stack.tenant, stack.app.test_client()
    worker = start_worker(stack.env, tmp_path, "poison")
    try:
        with RecordingServer() as recordings:
            recordings.add("poison.wav", wav_bytes(1.0))
            recordings.add("fine.wav", wav_bytes(1.0))
            kills = []
            recordings.hooks["/files/poison.wav"] = lambda client: (
                kills.append(1), kill_the_fetching_child(worker.pid, client))

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
