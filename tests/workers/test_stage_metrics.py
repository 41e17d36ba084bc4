"""The stage wrapper's metrics (workers/pipeline.stage, docs/operations.md#metrics), read from
this process's registry: a run counted by its outcome, a redelivery, a failure by its code."""
from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from tests.support.http_server import RecordingServer
from tests.support.transcripts import CALL
from workers.pipeline import ANALYZE, FETCH_RECORDING, TRANSCRIPT_METRICS
from workers.stages import analyze, recording, transcript

pytestmark = pytest.mark.services


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def counts(stage: str, code: str = "") -> dict[str, float]:
    return {"planned": sample("callscope_stage_runs_total", stage=stage, outcome="planned"),
            "ended": sample("callscope_stage_runs_total", stage=stage, outcome="branch_ended"),
            "stored": sample("callscope_stage_runs_total", stage=stage, outcome="recording_stored"),
            "nothing": sample("callscope_stage_runs_total", stage=stage, outcome="nothing_to_do"),
            "failed": sample("callscope_stage_runs_total", stage=stage, outcome="failed"),
            "failure": sample("callscope_stage_failures_total", stage=stage, code=code),
            "redelivered": sample("callscope_stage_redeliveries_total", stage=stage),
            "timed": sample("callscope_stage_duration_seconds_count", stage=stage)}


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before if after[key] != before[key]}


def test_runs_are_counted_by_outcome_and_a_redelivery_is_counted_as_one(env):
    deps, _sent, new_call, _db = env
    call_id = new_call(transcript=CALL)
    before = {stage: counts(stage) for stage in (ANALYZE, TRANSCRIPT_METRICS)}
    analyze.analyze_call(deps, call_id)
    transcript.compute_transcript_metrics(deps, call_id)
    transcript.compute_transcript_metrics(deps, call_id)  # delivered again: finds its work done
    assert delta(before[ANALYZE], counts(ANALYZE)) == {"planned": 1, "timed": 1}
    assert delta(before[TRANSCRIPT_METRICS], counts(TRANSCRIPT_METRICS)) == {
        "ended": 1, "nothing": 1, "redelivered": 1, "timed": 2}


def test_a_failure_that_ends_the_branch_is_counted_with_its_code(env):
    deps, _sent, new_call, db = env
    before = counts(FETCH_RECORDING, "recording_unreachable")
    with RecordingServer() as server:
        call_id = new_call(transcript=CALL, recording_url=server.url("/status/404"))
        analyze.analyze_call(deps, call_id)
        recording.fetch_recording(deps, call_id)  # a 404 is permanent: no retry
    assert db.execute("SELECT failure_code FROM calls WHERE id = %s", (call_id,)).fetchone()["failure_code"] \
        == "recording_unreachable"
    assert delta(before, counts(FETCH_RECORDING, "recording_unreachable")) == {"failed": 1, "failure": 1, "timed": 1}
