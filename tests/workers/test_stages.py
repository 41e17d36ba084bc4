"""Stage functions called directly (no broker): idempotency, the join, attempt counting."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.audio import wav_bytes
from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL
from workers.pipeline import AUDIO_METRICS, AUDIO_ONLY, CODE_JUDGES, FETCH_RECORDING, TRANSCRIPT_METRICS
from workers.stages import analyze, audio, finalize, recording, sweep, transcript

pytestmark = pytest.mark.services


def row(db, call_id):
    return db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()


def results(db, call_id):
    return {r["metric_key"]: r for r in db.execute(
        "SELECT * FROM metric_results WHERE call_id = %s", (call_id,))}


def test_transcript_branch_runs_once_and_triggers_finalize_once(env):
    deps, sent, new_call, db = env
    call_id = new_call(transcript=CALL)
    analyze.analyze_call(deps, call_id)
    assert sent.tasks == [(TRANSCRIPT_METRICS, call_id)]
    transcript.compute_transcript_metrics(deps, call_id)
    first = results(db, call_id)
    transcript.compute_transcript_metrics(deps, call_id)  # a redelivery
    assert results(db, call_id) == first
    assert [t for t in sent.tasks if t[0] == CODE_JUDGES] == [(CODE_JUDGES, call_id)]
    finalize.finalize_call(deps, call_id)
    finalize.finalize_call(deps, call_id)
    history = db.execute("SELECT field, to_status FROM call_status_history WHERE call_id = %s ORDER BY id",
                         (call_id,)).fetchall()
    assert [(h["field"], h["to_status"]) for h in history] == [
        ("analysis_status", "pending"), ("llm_branch", "done"), ("transcript_branch", "done"),
        ("analysis_status", "computed")]


def test_join_waits_for_both_branches(env):
    deps, sent, new_call, db = env
    with RecordingServer() as server:
        call_id = new_call(transcript=CALL, recording_url=server.add("a.wav", wav_bytes(1.0)))
        analyze.analyze_call(deps, call_id)
        assert sorted(sent.tasks) == sorted([(TRANSCRIPT_METRICS, call_id),
                                             (FETCH_RECORDING, call_id)])
        transcript.compute_transcript_metrics(deps, call_id)
        assert not any(t[0] == CODE_JUDGES for t in sent.tasks)  # audio still running
        recording.fetch_recording(deps, call_id)
        recording.fetch_recording(deps, call_id)  # redelivered: finds the branch fetched, does nothing
        assert deps.storage.exists(row(db, call_id)["recording_key"])
        audio.compute_audio_metrics(deps, call_id)
        assert [t for t in sent.tasks if t[0] == CODE_JUDGES] == [(CODE_JUDGES, call_id)]
    # each went to its kind's queue; the recording is to be transcribed (docs/pipeline.md#queues)
    assert dict(zip((t[0] for t in sent.tasks), sent.queues, strict=True)) == {
        TRANSCRIPT_METRICS: "control", FETCH_RECORDING: "audio", AUDIO_METRICS: "transcription",
        CODE_JUDGES: "code_judges"}


def test_stage_delivered_too_often_fails_the_call_worker_lost(env):
    deps, sent, new_call, db = env
    call_id = new_call(transcript=CALL)
    analyze.analyze_call(deps, call_id)
    # simulate deliveries that killed their worker before finishing
    db.execute("INSERT INTO stage_runs (call_id, stage, deliveries) VALUES (%s, %s, %s)",
               (call_id, TRANSCRIPT_METRICS, deps.settings.max_stage_deliveries))
    db.commit()
    transcript.compute_transcript_metrics(deps, call_id)
    call = row(db, call_id)
    assert call["analysis_status"] == "failed" and call["failure_code"] == "worker_lost"
    statuses = {key: r["status"] for key, r in results(db, call_id).items()}
    # every pending result failed; only the recording metrics were skipped earlier (no recording)
    assert {key for key, status in statuses.items() if status != "failed"} == AUDIO_ONLY


def test_sweeper_requeues_stale_and_gives_up_after_max_attempts(env):
    deps, sent, new_call, db = env
    deps = replace(deps, settings=replace(deps.settings, stale_after_seconds=60, max_attempts=2))
    call_id = new_call(transcript=CALL)

    def age():
        db.execute("UPDATE calls SET progressed_at = now() - interval '2 minutes' WHERE id = %s", (call_id,))
        db.commit()

    assert sweep.sweep_stale_calls(deps) == {"requeued": 0, "failed": 0, "backlog": 0}  # fresh: left alone
    for requeued, failed in ((1, 0), (1, 0), (0, 1)):
        age()
        assert sweep.sweep_stale_calls(deps) == {"requeued": requeued, "failed": failed, "backlog": 0}
    call = row(db, call_id)
    assert call["analysis_status"] == "failed" and call["failure_code"] == "analysis_timeout"


def test_sweeper_waits_while_the_queue_has_a_backlog(env):
    deps, sent, new_call, db = env
    deps = replace(deps, settings=replace(deps.settings, stale_after_seconds=60), queue_depth=lambda: 1200)
    call_id = new_call(transcript=CALL)
    db.execute("UPDATE calls SET progressed_at = now() - interval '2 minutes' WHERE id = %s", (call_id,))
    db.commit()
    assert sweep.sweep_stale_calls(deps) == {"requeued": 0, "failed": 0, "backlog": 1200}
    assert row(db, call_id)["sweeps"] == 0 and not any(t[0] == "calls.analyze" for t in sent.tasks)


def test_text_observation_skips_voice_metrics(env):
    deps, sent, new_call, db = env
    call_id = new_call(transcript=CALL, observation_type="text")
    analyze.analyze_call(deps, call_id)
    transcript.compute_transcript_metrics(deps, call_id)
    res = results(db, call_id)
    assert res["latency_ms"]["status"] == "computed"
    assert res["talk_ratio"]["status"] == "skipped" and res["talk_ratio"]["error_code"] == "text_observation"


def test_failed_metric_fails_the_call_with_metric_failed(env, monkeypatch):
    deps, sent, new_call, db = env
    from workers.metrics import registry

    monkeypatch.setitem(registry.REGISTRY, "talk_ratio", lambda data: 1 / 0)
    call_id = new_call(transcript=CALL)
    analyze.analyze_call(deps, call_id)
    transcript.compute_transcript_metrics(deps, call_id)
    finalize.finalize_call(deps, call_id)
    call = row(db, call_id)
    assert call["analysis_status"] == "failed" and call["failure_code"] == "metric_failed"
    res = results(db, call_id)
    assert res["talk_ratio"]["error_code"] == "metric_error" and res["latency_ms"]["status"] == "computed"


def test_a_recording_over_the_duration_limit_fails_recording_too_long(env):
    """The limit is checked on what the file holds: a WAV whose header declares three days of
    audio but holds 2 s is measured as 2 s (no refusal for the header, no three-day read)."""
    deps, sent, new_call, db = env
    deps = replace(deps, settings=replace(deps.settings, max_recording_seconds=1))
    liar = bytearray(wav_bytes(2.0, rate=8000))
    liar[4:8] = liar[40:44] = (0xFFFFFFF0).to_bytes(4, "little")
    with RecordingServer() as server:
        too_long = new_call(transcript=CALL, recording_url=server.add("long.wav", wav_bytes(2.0, rate=8000)))
        analyze.analyze_call(deps, too_long)
        recording.fetch_recording(deps, too_long)
        lying = new_call(transcript=CALL, recording_url=server.add("liar.wav", bytes(liar)))
        analyze.analyze_call(deps, lying)
        recording.fetch_recording(replace(deps, settings=replace(deps.settings, max_recording_seconds=3)), lying)
    call = row(db, too_long)
    assert (call["audio_branch"], call["failure_code"]) == ("failed", "recording_too_long")
    assert "lasts 2 s" in call["failure_message"]
    assert results(db, too_long)["latency_ms"]["source"] == "transcript"  # falls back to the timings
    call = row(db, lying)
    assert call["audio_branch"] == "fetched"
    assert call["recording_info"]["duration_seconds"] == pytest.approx(2.0, abs=0.05)


def test_a_worker_without_transcriber_marks_transcription_not_applicable(env):
    """The transcriber is the worker's setting (docs/configuration.md#the-transcriber-belongs-to-the-worker):
    the web marks every voice recording for transcription, a worker without one says not_applicable."""
    deps, sent, new_call, db = env
    deps = replace(deps, transcriber=None)
    with RecordingServer() as server:
        call_id = new_call(transcript=CALL, recording_url=server.add("n.wav", wav_bytes(1.0)))
        assert row(db, call_id)["transcription_status"] == "pending"
        analyze.analyze_call(deps, call_id)
        recording.fetch_recording(deps, call_id)
        audio.compute_audio_metrics(deps, call_id)
    assert row(db, call_id)["transcription_status"] == "not_applicable"
    assert results(db, call_id)["transcription_accuracy"]["error_code"] == "no_generated_transcript"
