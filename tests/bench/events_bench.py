"""How fast the events endpoint answers a platform (the platforms time out in 10–20 s; the
issue asks for well under a second). Run on demand, against the services deploy/test.sh starts:

    deploy/test.sh tests/bench/events_bench.py -s -q

Serves the app over real HTTP on 127.0.0.1 and posts N signed Retell `call_ended` events (each a
new call: signature check, mapping, insert, enqueue) and N duplicates, one at a time, then N
ElevenLabs audio events of 1 MiB. Prints the answer times; asserts nothing about them."""
from __future__ import annotations

import os
import statistics
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from tests.api.conftest import app, client, fresh_rate_limits, settings, tenant  # noqa: F401 (fixtures)
from tests.support import platforms as pf

N = int(os.environ.get("CALLSCOPE_BENCH_EVENTS", "200"))
SECRET = "bench-platform-secret-0123456789"


def _post(base: str, integration: dict, payload: dict) -> float:
    body = pf.encode(payload)
    headers = {"Content-Type": "application/json", **pf.SIGNERS[integration["platform"]](SECRET, body)}
    started = time.perf_counter()
    answer = requests.post(f"{base}/api/public/v1/integrations/{integration['id']}/events", data=body,
                           headers=headers, timeout=30)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return elapsed * 1000


def _report(name: str, times: list[float]) -> None:
    ordered = sorted(times)
    print(f"{name:<28} n={len(times):>4}  p50={statistics.median(ordered):6.1f} ms"
          f"  p95={ordered[int(0.95 * (len(ordered) - 1))]:6.1f} ms  max={ordered[-1]:6.1f} ms")


@pytest.mark.services
def test_events_answer_times(app, tenant, client):  # noqa: F811 (the fixtures imported above)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    made = {}
    for platform in ("retell", "elevenlabs"):
        made[platform] = client.post("/api/public/v1/integrations", headers=tenant.headers, json={
            "platform": platform, "name": platform, "signing_secret": SECRET,
            "default_agent_id": tenant.agent_id}).get_json()
    new = [_post(base, made["retell"], pf.retell_event("call_ended", f"bench-{i}")) for i in range(N)]
    dup = [_post(base, made["retell"], pf.retell_event("call_analyzed", f"bench-{i}")) for i in range(N)]
    audio = [_post(base, made["elevenlabs"], pf.elevenlabs_audio(f"bench-{i}", os.urandom(1024 * 1024)))
             for i in range(max(1, N // 10))]
    server.shutdown()
    print()
    _report("retell call_ended (new)", new)
    _report("retell call_analyzed (dup)", dup)
    _report("elevenlabs audio 1 MiB", audio)
