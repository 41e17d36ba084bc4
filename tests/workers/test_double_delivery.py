"""A stage that outlives the broker's visibility timeout is delivered again while the first
delivery is still running (reliability notes). What that does to a call is reproduced here
without waiting for a real timeout (the settings refuse a visibility timeout below the task
time limit): every stage of a call runs twice at the same moment, in two threads with their
own connections, as two worker processes would. Each result must be written exactly once,
each status transition once, each join fired once."""
from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace

import pytest

from app.service import metrics as metrics_service
from tests.support.audio import wav_bytes
from tests.support.fake_llm import FakeLLM
from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL
from workers.judges.llm import OpenAIJudge
from workers.pipeline import CODE_JUDGES
from workers.stages import analyze, audio, finalize, judges, recording, transcript

pytestmark = pytest.mark.services


def twice_at_once(stage, deps, call_id) -> None:
    barrier = threading.Barrier(2)
    errors = []

    def run():
        barrier.wait()
        try:
            stage(deps, call_id)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


def test_every_stage_delivered_twice_concurrently_writes_once(env):
    deps, sent, new_call, db = env
    definitions = [{"name": "Polite", "kind": "llm", "result_type": "boolean", "prompt": "Polite?"},
                   {"name": "Turns", "kind": "code", "result_type": "numeric",
                    "code": 'metric["result"] = len(context["transcript"])'}]
    ids = [metrics_service.create_metric(new_call.api, new_call.workspace_id,
                                         {"critical": False, "enabled": True, **d})["id"] for d in definitions]
    with FakeLLM(answers={"Polite": (True, "yes")}) as llm, RecordingServer() as server:
        deps = replace(deps, judge=OpenAIJudge(llm.base_url, "", "m", 5, max_retries=0))
        call_id = new_call(transcript=CALL, recording_url=server.add("d.wav", wav_bytes(2.0)), metric_ids=ids)
        for stage in (analyze.analyze_call, transcript.compute_transcript_metrics, judges.run_llm_judges,
                      recording.fetch_recording, audio.compute_audio_metrics, judges.run_code_judges,
                      finalize.finalize_call):
            twice_at_once(stage, deps, call_id)
        llm_requests = len(llm.requests)
    call = db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert call["analysis_status"] == "computed", call["failure_message"]
    history = Counter((h["field"], h["to_status"]) for h in db.execute(
        "SELECT field, to_status FROM call_status_history WHERE call_id = %s", (call_id,)))
    assert set(history.values()) == {1}, history  # no transition written twice
    assert set(history) == {("analysis_status", "pending"), ("transcript_branch", "done"), ("llm_branch", "done"),
                            ("audio_branch", "fetched"), ("audio_branch", "done"), ("analysis_status", "computed"),
                            ("transcription_status", "completed")}
    standard = db.execute("SELECT status FROM metric_results WHERE call_id = %s", (call_id,)).fetchall()
    custom = db.execute("SELECT status, result FROM custom_results WHERE call_id = %s", (call_id,)).fetchall()
    assert standard and {r["status"] for r in standard} <= {"computed", "skipped"}
    assert sorted(r["result"] for r in custom) == sorted([True, len(CALL)])
    assert len([t for t in sent.tasks if t[0] == CODE_JUDGES]) == 1  # the join fired once
    # both LLM deliveries may ask the provider (that cost is the price of at-least-once), but
    # only one verdict is kept
    assert 1 <= llm_requests <= 2
    assert deps.storage.exists(call["recording_key"])
