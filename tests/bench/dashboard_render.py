"""Benchmark (not part of the test run): server time to render the dashboard's call page for a
60-minute call with about 1,000 timeline events, and the bytes a browser downloads for it.

    tests/bench/dashboard_render.sh [runs=30]       # starts its own Postgres on loopback

The call is written through the db layer as the pipeline would leave it: 60 minutes of
alternating turns (the audio's speech segments, a provided transcript of every turn), latency
for every AI answer, barge-ins and backchannels both ways, stop times, silences. Each run is a
full GET through the Flask app (session lookup, the call's reads, timeline, template) measured
in-process; the first (cold) request is reported apart. The recording itself is not counted:
the player loads only its header (preload=metadata) and streams by range requests while playing.
"""
from __future__ import annotations

import gzip
import random
import statistics
import sys
import time

from app import create_app
from app.catalogue import STANDARD_KEYS
from app.db import calls as calls_db
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.migrate import apply_migrations
from app.db.pool import connect
from app.service import admin, users
from app.settings import Settings

MINUTES, TURN_SECONDS = 60, 7.2
PASSWORD = "benchmark passphrase"


def synthetic_call(rng: random.Random) -> tuple[dict, dict, list[dict]]:
    """(speech, results by metric key, transcript) of a 60-minute call."""
    ai, user, transcript, latencies, interruptions = [], [], [], [], {"user": [], "ai": []}
    stops, silences = [], []
    t, turn = 0.5, 0
    while t < MINUTES * 60 - TURN_SECONDS:
        turn += 1
        party = "ai" if turn % 2 else "user"
        length = rng.uniform(2.5, 5.5)
        (ai if party == "ai" else user).append([round(t, 3), round(t + length, 3)])
        transcript.append({"role": "AI Assistant" if party == "ai" else "User", "start_time": round(t, 3),
                           "end_time": round(t + length, 3),
                           "content": " ".join(rng.choice(["booking", "Thursday", "please", "yes", "nine", "account",
                                                           "could", "you", "check", "the", "time"]) for _ in range(14))})
        gap = rng.uniform(0.4, 1.6)
        if turn % 2 == 0:  # the AI answers this user turn
            latencies.append({"turn": turn + 1, "latency_ms": int(gap * 1000), "at_second": round(t + length + gap, 3)})
        if rng.random() < 0.6:
            who = "user" if party == "ai" else "ai"
            at = round(t + length * 0.7, 3)
            kind = "barge_in" if rng.random() < 0.6 else "backchannel"
            interruptions[who].append({"at_second": at, "duration_ms": 400, "type": kind})
            if who == "user" and kind == "barge_in":
                stops.append({"at_second": at, "stop_time_ms": rng.randint(200, 1200)})
        if rng.random() < 0.15:
            silences.append({"at_second": round(t + length, 3), "duration_ms": 2500})
            gap += 2.5
        t += length + gap
    speech = {"channels": 2, "duration_seconds": MINUTES * 60, "ai_channel": "left", "ai_channel_source": "setting",
              "confidence": None, "segments": {"ai": ai, "user": user}, "channel_segments": [ai, user],
              "skip_reason": None}
    values = [x["latency_ms"] for x in latencies]
    results = {
        "latency_ms": {"average_ms": int(statistics.mean(values)), "p50_ms": int(statistics.median(values)),
                       "p95_ms": int(sorted(values)[int(len(values) * 0.95)]), "turns": latencies},
        "user_interruptions": {"count": len(interruptions["user"]), "interruptions": interruptions["user"]},
        "ai_interruptions": {"count": len(interruptions["ai"]), "interruptions": interruptions["ai"]},
        "stop_time_after_interruption": {"average_ms": 600, "events": stops},
        "silence_detection": {"ai_channel": {"count": len(silences), "total_ms": 2500 * len(silences), "events": silences},
                              "user_channel": {"count": 0, "total_ms": 0, "events": []}, "threshold_ms": 2000},
        "talk_ratio": {"ratio": 0.52, "ai_talk_ms": 1, "user_talk_ms": 1, "overlap_ms": 0},
    }
    return speech, results, transcript


def store_call(settings: Settings) -> tuple[int, str, int]:
    """A workspace, agent, user and the computed call; returns (call id, user email, marks)."""
    rng = random.Random(14)
    speech, results, transcript = synthetic_call(rng)
    with connect(settings.database_url) as conn:
        apply_migrations(conn)
        ws = admin.create_workspace(conn, "bench")
        agent = admin.create_agent(conn, ws["id"], "bench agent")
        email = f"bench-{int(time.time() * 1000)}@bench.test"
        users.create_user(conn, ws["id"], email, PASSWORD, True)
        with conn.transaction():
            values = {"workspace_id": ws["id"], "agent_id": agent["id"], "call_identifier": f"bench-{time.time()}",
                      "observation_type": "voice", "call_direction": "inbound", "call_timestamp": "2026-01-01T10:00:00Z",
                      "metadata": {"bench": True}, "transcript": transcript, "transcript_source": "provided",
                      "transcription_status": "not_applicable", "transcript_branch": "done", "audio_branch": "done",
                      "duration_seconds": MINUTES * 60, "source_recording_url": "http://127.0.0.1/none.wav"}
            call_id = calls_db.insert_call(conn, values, list(STANDARD_KEYS))["call_id"]
            pipeline_db.set_recording(conn, call_id, f"recordings/{call_id}.wav",
                                      {"format": "wav", "codec": "pcm_s16le", "duration_seconds": MINUTES * 60,
                                       "channels": 2, "sample_rate": 16000, "bytes": MINUTES * 60 * 64000})
            pipeline_db.set_speech(conn, call_id, speech)
            for key in STANDARD_KEYS:
                if key in results:
                    results_db.complete_result(conn, call_id, key, "computed", source="audio", result_data=results[key])
                else:
                    results_db.complete_result(conn, call_id, key, "skipped", error_code="no_recording")
            pipeline_db.finalize_call(conn, call_id, "computed", True, None, None)
    marks = (len(results["latency_ms"]["turns"]) + results["user_interruptions"]["count"]
             + results["ai_interruptions"]["count"] + len(results["stop_time_after_interruption"]["events"])
             + results["silence_detection"]["ai_channel"]["count"])
    segments = len(speech["segments"]["ai"]) + len(speech["segments"]["user"])
    print(f"call: {MINUTES} min, {segments} speech segments, {marks} events, {len(transcript)} transcript turns")
    return call_id, email, marks


def main(runs: int) -> None:
    settings = Settings.from_env()
    call_id, email, _ = store_call(settings)
    app = create_app(settings)
    client = app.test_client()
    page = client.get("/dashboard/sign-in").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    client.post("/dashboard/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token})
    url = f"/dashboard/calls/{call_id}"
    started = time.perf_counter()
    first = client.get(url)
    cold = time.perf_counter() - started
    assert first.status_code == 200, first.status_code
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    html = response.get_data()
    assets = {name: client.get(f"/dashboard/static/{name}").get_data() for name in ("dashboard.css", "call.js")}
    timings.sort()
    print(f"server render of {url}: cold {cold * 1000:.0f} ms; warm over {runs} runs: median {statistics.median(timings):.0f} ms,"
          f" p90 {timings[int(runs * 0.9) - 1]:.0f} ms, min {timings[0]:.0f} ms")
    elements = sum(html.count(tag) for tag in (b"<rect", b"<path", b"<text", b"<line"))
    print(f"SVG elements in the page: {elements}")
    total, total_gz = len(html), len(gzip.compress(html))
    print(f"  page HTML      {total:>9,} B   gzip {total_gz:>8,} B")
    for name, body in assets.items():
        total += len(body)
        total_gz += len(gzip.compress(body))
        print(f"  {name:<14} {len(body):>9,} B   gzip {len(gzip.compress(body)):>8,} B")
    print(f"  total          {total:>9,} B   gzip {total_gz:>8,} B   (plus the recording, streamed while playing)")
    app.extensions["callscope"].pool.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
