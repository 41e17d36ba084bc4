"""A transcriber that is down (503) or refuses us (401) while the audio stage runs: the stage
retries an outage, and once it has no retry left it analyses the audio without the transcript —
speech activity does not need it — while everything that needed the transcript fails with the
transcriber's code (never a silent `skipped`)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support import callgen
from tests.support.fake_asr import FakeTranscriptionServer
from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL
from tests.workers.test_judge_stages import POLITE, custom, define
from workers.asr.remote import OpenAITranscriber
from workers.failure import StageFailure
from workers.pipeline import CODE_JUDGES, LLM_JUDGES
from workers.stages import analyze, audio, finalize, judges, recording, transcript

pytestmark = [pytest.mark.services,
              pytest.mark.skipif(not callgen.espeak_available(), reason="espeak-ng is installed by deploy/test.sh")]


@pytest.fixture(scope="module")
def conversation() -> bytes:
    return callgen.wav_bytes(callgen.render(callgen.build_lines(callgen.ALTERNATE_STEPS)))


def results(db, call_id) -> dict:
    return {r["metric_key"]: r for r in db.execute("SELECT * FROM metric_results WHERE call_id = %s", (call_id,))}


def fetched_call(deps, new_call, server, conversation, **fields) -> int:
    call_id = new_call(recording_url=server.add(f"{id(fields)}.wav", conversation), **fields)
    analyze.analyze_call(deps, call_id)
    transcript.compute_transcript_metrics(deps, call_id)
    recording.fetch_recording(deps, call_id)
    return call_id


@pytest.mark.parametrize("status, code, retried", [(503, "transcription_unavailable", True),
                                                   (401, "transcription_failed", False)])
def test_recording_only_call_keeps_its_audio_metrics(env, conversation, status, code, retried):
    deps, sent, new_call, db = env
    (polite,) = define(new_call, POLITE)
    with RecordingServer() as server, FakeTranscriptionServer(status) as asr:
        deps = replace(deps, transcriber=OpenAITranscriber(asr.base_url, "", "whisper-1", 5))
        call_id = fetched_call(deps, new_call, server, conversation, transcript=None, metric_ids=[polite])
        if retried:
            with pytest.raises(StageFailure) as transient:
                audio.compute_audio_metrics(deps, call_id)  # a try with retries left
            assert transient.value.code == code
            assert db.execute("SELECT transcription_status FROM calls WHERE id = %s",
                              (call_id,)).fetchone()["transcription_status"] == "pending"
        audio.compute_audio_metrics(deps, call_id, retries_done=deps.settings.fetch_retries)
        tries = len(asr.requests)
    assert tries == (2 if retried else 1)  # the first channel's request fails each try
    rows = results(db, call_id)
    # speech activity came from the audio: turn-taking metrics are there
    for key in ("latency_ms", "user_interruptions", "silence_detection", "talk_ratio"):
        assert (rows[key]["status"], rows[key]["source"]) == ("computed", "audio"), key
    assert rows["latency_ms"]["result_data"]["turns"]
    # what needed the transcript failed, saying why
    assert (rows["word_per_minute"]["status"], rows["word_per_minute"]["error_code"]) == ("failed", code)
    judged = custom(db, call_id)["Polite"]
    assert (judged["status"], judged["error_code"]) == ("failed", code)
    assert not any(t[0] == LLM_JUDGES and t[1] == call_id for t in sent.tasks)
    assert [t[0] for t in sent.tasks if t[1] == call_id][-1] == CODE_JUDGES  # the join still fired
    judges.run_code_judges(deps, call_id)
    finalize.finalize_call(deps, call_id)
    call = db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert (call["analysis_status"], call["failure_code"], call["transcription_status"]) == (
        "failed", "metric_failed", "failed")
    history = db.execute("SELECT field, to_status, code FROM call_status_history WHERE call_id = %s"
                         " AND field = 'transcription_status'", (call_id,)).fetchall()
    assert [(h["to_status"], h["code"]) for h in history] == [("failed", code)]


def test_a_provided_transcript_is_judged_but_not_scored(env, conversation):
    """With the transcript provided, only transcription_accuracy needed the transcriber."""
    deps, sent, new_call, db = env
    with RecordingServer() as server, FakeTranscriptionServer(503) as asr:
        deps = replace(deps, transcriber=OpenAITranscriber(asr.base_url, "", "whisper-1", 5))
        call_id = fetched_call(deps, new_call, server, conversation, transcript=CALL)
        audio.compute_audio_metrics(deps, call_id, retries_done=deps.settings.fetch_retries)
    rows = results(db, call_id)
    assert (rows["transcription_accuracy"]["status"], rows["transcription_accuracy"]["error_code"]) == (
        "failed", "transcription_unavailable")
    assert rows["word_per_minute"]["status"] == "computed"
    failed = sorted(k for k, r in rows.items() if r["status"] == "failed")
    assert failed == ["transcription_accuracy"]
