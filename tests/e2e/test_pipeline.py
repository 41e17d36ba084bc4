"""POST → pending → computed/failed through the real broker, worker process, Postgres and S3."""
import uuid

import pytest
import requests

from app.errors import FAILURE_CODES
from tests.api.conftest import call_body
from tests.e2e.conftest import wait_for_final
from tests.support.audio import wav_bytes
from tests.support.transcripts import CALL
from workers.pipeline import AUDIO_ONLY

URL = "/api/public/v1/calls"


@pytest.fixture()
def client(e2e_app, worker):
    return e2e_app.test_client()


def submit(client, tenant, **fields) -> int:
    body = call_body(tenant, call_identifier=f"e2e-{uuid.uuid4().hex[:10]}", **fields)
    response = client.post(URL, json=body, headers=tenant.headers)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def metrics(call):
    return {m["metric_key"]: m for m in call["standard_metrics"]}


def test_transcript_only_call_is_computed_from_timings(client, e2e_tenant):
    call = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, transcript=CALL))
    assert call["analysis_status"] == "computed", call
    assert call["call_success"] is True and call["failure"] is None
    results = metrics(call)
    assert all(m["status"] == "computed" and m["source"] == "transcript"
               for key, m in results.items() if key not in AUDIO_ONLY)
    assert {(results[key]["status"], results[key]["error"]["code"]) for key in AUDIO_ONLY} == {("skipped", "no_recording")}
    assert call["transcription_status"] == "not_applicable"
    assert results["latency_ms"]["result_data"]["average_ms"] == 960
    assert results["user_interruptions"]["result_data"]["count"] == 2
    assert results["silence_detection"]["result_data"]["ai_channel"]["total_ms"] == 2500
    history = [(h["field"], h["from"], h["to"]) for h in call["status_history"]]
    assert history == [("analysis_status", None, "pending"), ("llm_branch", "pending", "done"),
                       ("transcript_branch", "pending", "done"), ("analysis_status", "pending", "computed")]


def test_recording_call_is_stored_in_s3_and_presigned(client, e2e_tenant, recordings):
    audio = wav_bytes(seconds=3.0, rate=8000)
    url = recordings.add(f"{uuid.uuid4().hex}.wav", audio)
    call = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, recording_url=url, transcript=CALL))
    assert call["analysis_status"] == "computed", call
    assert call["recording"]["format"] == "wav" and call["recording"]["channels"] == 2
    assert call["recording"]["sample_rate"] == 8000 and call["recording"]["duration_seconds"] == pytest.approx(3.0)
    assert "X-Amz-Signature" in call["recording_url"] and f"/{call['id']}/original.wav" in call["recording_url"]
    assert requests.get(call["recording_url"], timeout=10).content == audio
    branches = [(h["field"], h["to"]) for h in call["status_history"] if h["field"] == "audio_branch"]
    assert branches == [("audio_branch", "fetched"), ("audio_branch", "done")]


def test_recording_only_call_is_analysed_from_the_audio(client, e2e_tenant, recordings):
    """A stereo recording of a synthetic call with known timing → metrics with source audio."""
    from app.catalogue import DEFAULT_THRESHOLDS
    from tests.support import callgen
    from workers.metrics.inputs import MetricInput
    from workers.metrics.registry import REGISTRY
    from workers.metrics.timeline import make_speech

    if not callgen.espeak_available():
        pytest.skip("espeak-ng is installed by deploy/test.sh")
    call = callgen.render(callgen.build_lines(callgen.STANDARD_STEPS))
    url = recordings.add(f"{uuid.uuid4().hex}.wav", callgen.wav_bytes(callgen.to_rate(call, 8000)))
    analysed = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, recording_url=url, transcript=None))
    assert analysed["analysis_status"] == "computed", analysed
    results = metrics(analysed)
    assert {m["source"] for m in results.values() if m["status"] == "computed"} == {"audio"}
    truth = REGISTRY["latency_ms"](MetricInput(make_speech(call.truth["ai"], call.truth["user"]), None, "inbound",
                                               dict(DEFAULT_THRESHOLDS), "audio"))
    got = results["latency_ms"]["result_data"]
    assert len(got["turns"]) == len(truth["turns"])
    assert abs(got["average_ms"] - truth["average_ms"]) <= 30
    assert results["user_interruptions"]["result_data"]["count"] == 2
    # the transcript is generated from the two channels (8 kHz here), and words come from it
    assert analysed["transcription_status"] == "completed" and analysed["transcript_source"] == "generated"
    assert {t["role"] for t in analysed["transcript"]} == {"AI Assistant", "User"}
    words = results["word_per_minute"]["result_data"]["words"]
    assert abs(words - call.words()["ai"]) <= 0.15 * call.words()["ai"], (words, call.words())
    assert results["transcription_accuracy"]["error"]["code"] == "no_provided_transcript"
    assert results["voice_tone_clarity"]["status"] == "computed"
    speech = analysed["speech"]
    assert speech["ai_channel"] == "left" and speech["channels"] == 2
    assert len(speech["segments"]["ai"]) == len(call.truth["ai"])


@pytest.mark.parametrize("path,code", [("/status/404", "recording_unreachable"),
                                       ("/files/notes.txt", "undecodable_audio"),
                                       ("/status/503", "recording_unreachable")])
def test_bad_recordings_fail_with_their_code_but_keep_transcript_metrics(client, e2e_tenant, recordings,
                                                                         path, code):
    recordings.add("notes.txt", b"these are not the droids", "text/plain")
    call = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, recording_url=recordings.url(path),
                                                     transcript=CALL))
    assert call["analysis_status"] == "failed"
    assert call["failure"]["code"] == code and call["failure"]["message"]
    assert call["recording_url"] is None and call["call_success"] is None
    # the timing metrics fell back to the transcript's timings instead of failing blind
    assert metrics(call)["talk_ratio"]["status"] == "computed"
    assert metrics(call)["talk_ratio"]["source"] == "transcript"


def test_503_was_retried_before_failing(client, e2e_tenant, recordings):
    before = sum(1 for path, _ in recordings.requests if path == "/status/502")
    call = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, recording_url=recordings.url("/status/502")))
    assert call["failure"]["code"] == "recording_unreachable" and "after 2 retries" in call["failure"]["message"]
    assert sum(1 for path, _ in recordings.requests if path == "/status/502") - before == 3


def test_private_address_is_refused_without_dialling(client, e2e_tenant):
    # the worker runs confined to loopback: 10.x is refused by the guard before any connection
    call = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, recording_url="http://10.20.30.40/a.wav"))
    assert call["failure"]["code"] == "recording_forbidden_address"
    assert "recording_forbidden_address" in FAILURE_CODES


def test_a_task_lost_after_the_relay_published_it_is_made_good_by_the_sweeper(e2e_app, worker, e2e_tenant):
    """The outbox covers a broker that is down when a call is accepted (tests/api/test_outbox.py);
    the sweeper covers a task lost inside the broker after the relay published it (a Redis crash
    between two AOF syncs): here its outbox row vanishes unpublished, as if relayed and lost."""
    import contextlib
    from dataclasses import replace

    from app.db.pool import connect
    from app.service.calls import submit_call

    class OneConnection:
        """A pool of the one connection whose transaction the test commits itself."""

        def __init__(self, conn):
            self.conn = conn

        @contextlib.contextmanager
        def connection(self):
            yield self.conn

    deps = e2e_app.extensions["callscope"]
    body = {**call_body(e2e_tenant, call_identifier=f"sweep-{uuid.uuid4().hex[:8]}", transcript=CALL),
            "observation_type": "voice", "call_direction": "inbound"}
    with connect(deps.settings.database_url) as conn:
        # the call and its task in one uncommitted transaction (no relay sees it); the task is
        # dropped before the commit: the call is accepted, its task never reaches a worker
        accepted = submit_call(replace(deps, pool=OneConnection(conn)), e2e_tenant.workspace_id, body)
        conn.execute("DELETE FROM task_outbox WHERE task = 'calls.analyze' AND object_id = %s", (accepted["id"],))
        conn.commit()
    client = e2e_app.test_client()
    call = wait_for_final(client, e2e_tenant, accepted["id"], timeout=90)
    assert call["analysis_status"] == "computed"
    assert call["status_history"][0]["to"] == "pending"


def test_recording_with_transcript_audio_wins_and_wpm_uses_audio_time(client, e2e_tenant, recordings):
    """Both sources: timing comes from the audio; words per minute = transcript words ÷ AI
    speaking time measured in the audio."""
    from tests.support import callgen

    if not callgen.espeak_available():
        pytest.skip("espeak-ng is installed by deploy/test.sh")
    call = callgen.render(callgen.build_lines(callgen.ALTERNATE_STEPS))
    roles = {"ai": "AI Assistant", "user": "User"}
    transcript = []
    for party in ("ai", "user"):
        lines = [line for line in call.lines if line.party == party]
        for line, (start, end) in zip(lines, call.truth[party]):
            # timings deliberately off by 0.5 s: the audio's must win
            transcript.append({"role": roles[party], "content": line.text, "start_time": round(start + 0.5, 3),
                               "end_time": round(end + 0.5, 3)})
    transcript.sort(key=lambda t: t["start_time"])
    url = recordings.add(f"{uuid.uuid4().hex}.wav", callgen.wav_bytes(call))
    analysed = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, recording_url=url, transcript=transcript))
    assert analysed["analysis_status"] == "computed", analysed
    results = metrics(analysed)
    assert results["time_to_first_word_ms"]["source"] == "audio"
    assert abs(results["time_to_first_word_ms"]["result_data"]["ms"] - call.truth["ai"][0][0] * 1000) <= 30
    wpm = results["word_per_minute"]
    ai_words = call.words()["ai"]
    ai_seconds = sum(e - s for s, e in call.truth["ai"])
    assert wpm["source"] == "audio" and wpm["result_data"]["words"] == ai_words
    assert wpm["result_data"]["wpm"] == pytest.approx(ai_words / (ai_seconds / 60), rel=0.03)


def test_llm_and_critical_code_metric_decide_call_success(client, e2e_tenant, fake_llm):
    """One LLM metric (the fake provider) and one critical code metric reading the standard
    latency: the call ends computed, call_success set by the code metric."""
    headers = e2e_tenant.headers
    llm = client.post("/api/public/v1/metrics", headers=headers, json={
        "name": "Greets the caller", "kind": "llm", "result_type": "boolean", "prompt": "Does the agent greet?"})
    code = client.post("/api/public/v1/metrics", headers=headers, json={
        "name": "Latency budget", "kind": "code", "result_type": "numeric", "critical": True,
        "pass_criteria": {"lte": 900},
        "code": 'metric["result"] = context["standard_metrics"]["latency_ms"]["average_ms"]\n'
                'metric["explanation"] = "greeted" if context["llm_metrics"]["Greets the caller"]["result"] else "no"'})
    assert llm.status_code == 201 and code.status_code == 201, (llm.get_json(), code.get_json())
    ids = [llm.get_json()["id"], code.get_json()["id"]]
    call = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, transcript=CALL, metric_ids=ids))
    assert call["analysis_status"] == "computed", call
    custom = {m["name"]: m for m in call["custom_metrics"]}
    assert custom["Greets the caller"]["result"] is True and custom["Greets the caller"]["passed"] is True
    assert custom["Latency budget"]["result"] == 960 and custom["Latency budget"]["explanation"] == "greeted"
    assert custom["Latency budget"]["passed"] is False and custom["Latency budget"]["critical"] is True
    assert call["call_success"] is False  # 960 ms is over the critical 900 ms budget
    fixed = client.patch(f"/api/public/v1/metrics/{ids[1]}", headers=headers, json={"pass_criteria": {"lte": 1000}})
    assert fixed.get_json()["version"] == 2
    again = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, transcript=CALL, metric_ids=ids))
    latency = {m["name"]: m for m in again["custom_metrics"]}["Latency budget"]
    assert (latency["version"], latency["passed"], again["call_success"]) == (2, True, True)
    assert any(r["model"] == "fake-judge" for r in fake_llm.requests)


def test_llm_judges_run_on_the_generated_transcript(client, e2e_tenant, recordings):
    """A recording-only call: the LLM metric waits for the transcript the audio branch makes."""
    from tests.support import callgen

    if not callgen.espeak_available():
        pytest.skip("espeak-ng is installed by deploy/test.sh")
    created = client.post("/api/public/v1/metrics", headers=e2e_tenant.headers, json={
        "name": "Greets the caller", "kind": "llm", "result_type": "boolean", "prompt": "Does the agent greet?"})
    metric_id = created.get_json()["id"] if created.status_code == 201 else next(
        m["id"] for m in client.get("/api/public/v1/metrics", headers=e2e_tenant.headers).get_json()["items"]
        if m["name"] == "Greets the caller")
    call = callgen.render(callgen.build_lines(callgen.ALTERNATE_STEPS))
    url = recordings.add(f"{uuid.uuid4().hex}.wav", callgen.wav_bytes(call))
    analysed = wait_for_final(client, e2e_tenant, submit(client, e2e_tenant, recording_url=url, transcript=None,
                                                          metric_ids=[metric_id]))
    assert analysed["analysis_status"] == "computed", analysed
    assert analysed["transcript_source"] == "generated"
    judged = analysed["custom_metrics"][0]
    assert (judged["status"], judged["result"]) == ("computed", True)
    order = [(h["field"], h["to"]) for h in analysed["status_history"]]
    assert order.index(("transcription_status", "completed")) < order.index(("llm_branch", "done"))
