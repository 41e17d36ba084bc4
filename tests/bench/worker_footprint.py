"""Memory and CPU of each kind of process under real work — the figures the Kubernetes requests
and limits come from (docs/kubernetes.md#resources). Run on demand, against the services
deploy/test.sh starts:

    deploy/test.sh tests/bench/worker_footprint.py -s -q

Starts the Procfile's worker profiles (control, audio, transcription, llm, judge), beat, Flower
and gunicorn with 3 sync workers (the web pod's CALLSCOPE_WEB_CONCURRENCY) as real processes,
posts CALLSCOPE_BENCH_CALLS rounds of three calls over HTTP — the bundled sample call
(deploy/sample, 37 s of stereo speech) with its transcript, the same recording without one (it
is transcribed), and its transcript alone — each judged by one LLM metric (the fake provider)
and one code metric (the bubblewrap box), and waits for every call to end; then one
recording-only call of CALLSCOPE_BENCH_LONG_MINUTES (10; the sample repeated), alone. Every 0.25 s it reads
each process tree from /proc: resident memory (RSS, and PSS, which counts a page shared by
prefork siblings once, as the container's memory cgroup does) and CPU time. Prints, per kind:
idle and peak PSS, peak RSS, CPU seconds per call and the busiest second. Asserts nothing about
them."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
import wave
from pathlib import Path

import requests

from tests.e2e.conftest import (  # noqa: F401 (fixtures)
    _start,
    _stop,
    e2e_env,
    fake_llm,
    isolated_stack,
    platform_stand_in,
)
from tests.e2e.test_queues import procfile_worker
from tests.support.http_server import RecordingServer

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = int(os.environ.get("CALLSCOPE_BENCH_CALLS", "4"))
# then one recording-only call this long (the sample repeated), for the audio stage's peak on a long call
LONG_MINUTES = float(os.environ.get("CALLSCOPE_BENCH_LONG_MINUTES", "10"))
KINDS = ("worker-control", "worker-audio", "worker-transcription", "worker-llm", "worker-judge")
# what the Kubernetes manifests (and compose) give a kind on top of the shared environment
KIND_ENV = {"worker-judge": {"CALLSCOPE_TRANSCRIBER": "none"}}
# beat's production schedule (the e2e environment compresses it to seconds, which would bill the
# control worker for hundreds of sweeps)
SCHEDULE = {"CALLSCOPE_SWEEP_INTERVAL_SECONDS": "60", "CALLSCOPE_WEBHOOK_POLL_SECONDS": "15",
            "CALLSCOPE_RETENTION_INTERVAL_SECONDS": "3600", "CALLSCOPE_STALE_AFTER_SECONDS": "600"}
TICKS = os.sysconf("SC_CLK_TCK")


def tree(pid: int) -> list[int]:
    """`pid` and every descendant alive now."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            continue  # gone meanwhile
    return found


def footprint(pid: int) -> tuple[int, int, float]:
    """(RSS bytes, PSS bytes, CPU seconds incl. reaped children) of the tree under `pid`."""
    rss = pss = 0
    cpu = 0.0
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            with open(f"/proc/{member}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu += sum(int(v) for v in fields[11:15]) / TICKS  # utime stime cutime cstime
        except OSError:
            continue
    return rss, pss, cpu


class Sampler(threading.Thread):
    def __init__(self, procs: dict[str, subprocess.Popen]):
        super().__init__(daemon=True)
        self.procs, self.stop = procs, threading.Event()
        self.samples: dict[str, list[tuple[float, int, int, float]]] = {name: [] for name in procs}

    def run(self):
        while not self.stop.is_set():
            now = time.monotonic()
            for name, proc in self.procs.items():
                self.samples[name].append((now, *footprint(proc.pid)))
            self.stop.wait(0.25)


def busiest_second(samples) -> float:
    """The largest CPU use over any 1-s window, in cores."""
    best = 0.0
    for i, (t0, _, _, cpu0) in enumerate(samples):
        for t1, _, _, cpu1 in samples[i + 1:]:
            if t1 - t0 >= 1.0:
                best = max(best, (cpu1 - cpu0) / (t1 - t0))
                break
    return best


def start_web(env: dict, logs: Path) -> tuple[subprocess.Popen, str]:
    port = 18000 + os.getpid() % 1000
    web_env = {**env, "CALLSCOPE_HOST": "127.0.0.1", "CALLSCOPE_PORT": str(port), "CALLSCOPE_WEB_CONCURRENCY": "3",
               "CALLSCOPE_RATE_LIMIT_PER_SECOND": "0", "PROMETHEUS_MULTIPROC_DIR": str(logs / "web-metrics")}
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = _start([gunicorn, "--config", "deploy/gunicorn.conf.py", "app:create_app()"], web_env, logs / "web.log",
                  "Booting worker")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                return proc, base
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not become ready")


def long_recording(minutes: float) -> bytes:
    """The sample call repeated to `minutes` (same format)."""
    with wave.open(str(ROOT / "deploy/sample/sample-call.wav"), "rb") as sample:
        params, frames = sample.getparams(), sample.readframes(sample.getnframes())
    repeats = max(1, round(minutes * 60 / (params.nframes / params.framerate)))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setparams(params)
        out.writeframes(frames * repeats)
    return buf.getvalue()


def submit_and_wait(base: str, headers: dict, bodies: list[dict], timeout: float) -> list[int]:
    """POST every body, then poll until each call has ended (each must end `computed`)."""
    accepted = []
    for body in bodies:
        response = requests.post(f"{base}/api/public/v1/calls", headers=headers, json=body, timeout=10)
        assert response.status_code == 202, response.text
        accepted.append(response.json()["id"])
    deadline = time.monotonic() + timeout
    pending = set(accepted)
    while pending and time.monotonic() < deadline:
        for call_id in list(pending):
            call = requests.get(f"{base}/api/public/v1/calls/{call_id}", headers=headers, timeout=10).json()
            if call["analysis_status"] != "pending":
                assert call["analysis_status"] == "computed", call
                pending.discard(call_id)
        time.sleep(0.5)
    assert not pending, f"{len(pending)} calls still pending"
    return accepted


def test_footprint_of_each_process_kind(e2e_env, tmp_path):  # noqa: F811 (the fixture imported above)
    stack = isolated_stack(e2e_env, "footprint", 12, CALLSCOPE_FETCH_READ_TIMEOUT_SECONDS="30", **SCHEDULE)
    env, tenant = stack.env, stack.tenant
    procs: dict[str, subprocess.Popen] = {kind: procfile_worker(kind, {**env, **KIND_ENV.get(kind, {})}, tmp_path)
                                          for kind in KINDS}
    celery = [sys.executable, "-m", "celery", "-A", "workers.celery_app"]
    procs["beat"] = _start(celery + ["beat", "-s", str(tmp_path / "beat-schedule")], env, tmp_path / "beat.log", "beat")
    flower_port = str(15000 + os.getpid() % 1000)
    procs["flower"] = _start(celery + ["flower", "--address=127.0.0.1", f"--port={flower_port}"], env,
                             tmp_path / "flower.log", "Visit me at")
    procs["web"], base = start_web(env, tmp_path)
    sampler = Sampler(procs)
    try:
        headers = {**tenant.headers, "Content-Type": "application/json"}
        ids = []
        for body in ({"name": "Greets the caller", "kind": "llm", "result_type": "boolean",
                      "prompt": "Does the agent greet?"},
                     {"name": "Turns", "kind": "code", "result_type": "numeric",
                      "code": 'metric["result"] = len(context["transcript"])\nmetric["explanation"] = "turns"'}):
            created = requests.post(f"{base}/api/public/v1/metrics", headers=headers, json=body, timeout=10)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        transcript = json.loads((ROOT / "deploy/sample/sample-call.json").read_text())["transcript"]
        time.sleep(3)  # let every process settle after its start before the idle reading
        sampler.start()
        time.sleep(2)
        def body(**fields) -> dict:
            return {"call_identifier": f"fp-{uuid.uuid4().hex[:12]}", "agent_id": tenant.agent_id,
                    "client_id": tenant.workspace_id, "metric_ids": ids, **fields}

        with RecordingServer() as recordings:
            url = recordings.add("sample.wav", (ROOT / "deploy/sample/sample-call.wav").read_bytes())
            started = time.monotonic()
            accepted = submit_and_wait(base, headers, [
                body(**fields) for _ in range(ROUNDS) for fields in
                ({"recording_url": url, "transcript": transcript}, {"recording_url": url}, {"transcript": transcript})],
                timeout=600)
            elapsed = time.monotonic() - started
            time.sleep(1)
            long_started = time.monotonic()
            if LONG_MINUTES > 0:
                long_url = recordings.add("long.wav", long_recording(LONG_MINUTES))
                submit_and_wait(base, headers, [body(recording_url=long_url)], timeout=1800)
            long_elapsed = time.monotonic() - long_started
    finally:
        sampler.stop.set()
        sampler.join()
        for proc in procs.values():
            _stop(proc)
        stack.app.extensions["callscope"].pool.close()
    calls = len(accepted)
    mib = 1024 * 1024
    print(f"\n{calls} calls ({ROUNDS} × recording+transcript, recording only, transcript only; each with one LLM "
          f"and one code metric) in {elapsed:.1f} s on {os.cpu_count()} cores")
    print(f"{'process':22} {'idle PSS':>9} {'peak PSS':>9} {'peak RSS':>9} {'CPU s/call':>10} {'busiest 1 s':>12}")
    for name, every in sampler.samples.items():
        samples = [s for s in every if s[0] < long_started]  # the 12 calls only
        idle = samples[0][2]
        peak_pss = max(s[2] for s in samples)
        peak_rss = max(s[1] for s in samples)
        cpu = (samples[-1][3] - samples[0][3]) / calls
        print(f"{name:22} {idle / mib:8.0f}M {peak_pss / mib:8.0f}M {peak_rss / mib:8.0f}M {cpu:10.3f} "
              f"{busiest_second(samples):11.2f}c")
    if LONG_MINUTES > 0:
        print(f"\nthen one recording-only call of {LONG_MINUTES:g} min (the sample repeated) in {long_elapsed:.1f} s:")
        print(f"{'process':22} {'peak PSS':>9} {'peak RSS':>9} {'CPU s':>8}")
        for name in ("worker-audio", "worker-transcription", "worker-llm", "worker-judge"):
            window = [s for s in sampler.samples[name] if s[0] >= long_started]
            print(f"{name:22} {max(s[2] for s in window) / mib:8.0f}M {max(s[1] for s in window) / mib:8.0f}M "
                  f"{window[-1][3] - window[0][3]:8.1f}")
