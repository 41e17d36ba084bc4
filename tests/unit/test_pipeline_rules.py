"""The pipeline's rules as pure functions (workers/pipeline.py, docs/pipeline.md): planning,
what runs next, the final status, the retry policy — no services, so a change to the state
machine fails here in seconds."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.status import BRANCH_TERMINAL, BRANCHES, DONE, FAILED, FETCHED, NOT_APPLICABLE, PENDING
from workers import pipeline as p
from workers.failure import MAX_RETRY_DELAY, RetryPolicy

TIMED = [{"role": "AI Assistant", "content": "Hi", "start_time": 0.0, "end_time": 1.0}]
STAGES = (p.ANALYZE, p.TRANSCRIPT_METRICS, p.FETCH_RECORDING, p.AUDIO_METRICS, p.LLM_JUDGES, p.CODE_JUDGES,
          p.FINALIZE)


def call(**fields) -> dict:
    base = {"analysis_status": PENDING, "observation_type": "voice", "transcript": TIMED,
            "transcription_status": NOT_APPLICABLE, "transcript_branch": PENDING,
            "audio_branch": NOT_APPLICABLE, "llm_branch": PENDING}
    return {**base, **fields}


# planning
def test_voice_call_with_a_recording_measures_from_the_audio():
    plan = p.plan_metrics(call(audio_branch=PENDING), ["latency_ms", "voice_tone_clarity"])
    assert plan == {"transcript": [], "audio": ["latency_ms", "voice_tone_clarity"], "skip": {}}


def test_without_a_recording_timing_comes_from_the_transcript_and_audio_only_metrics_skip():
    audio_only = sorted(p.AUDIO_ONLY)[0]
    plan = p.plan_metrics(call(), ["latency_ms", audio_only])
    assert plan == {"transcript": ["latency_ms"], "audio": [], "skip": {audio_only: "no_recording"}}


def test_text_calls_skip_voice_metrics_and_nothing_to_read_skips_the_rest():
    assert p.plan_metrics(call(observation_type="text"), ["talk_ratio"])["skip"] == {"talk_ratio": "text_observation"}
    assert p.plan_metrics(call(transcript=None), ["latency_ms"])["skip"] == {"latency_ms": "no_transcript"}


# what runs next
@pytest.mark.parametrize("states, expected", [
    ({"audio_branch": PENDING}, [p.TRANSCRIPT_METRICS, p.FETCH_RECORDING, p.LLM_JUDGES]),
    ({"audio_branch": FETCHED, "transcript_branch": DONE}, [p.AUDIO_METRICS, p.LLM_JUDGES]),
    # LLM judges wait for the transcript the audio branch is to generate
    ({"audio_branch": PENDING, "transcript": None, "transcript_branch": DONE}, [p.FETCH_RECORDING]),
    ({"transcript_branch": DONE, "llm_branch": DONE}, [p.CODE_JUDGES]),  # every branch ended: the join again
    ({"transcript_branch": DONE, "llm_branch": DONE, "analysis_status": FAILED}, []),
])
def test_pending_branches(states, expected):
    assert p.pending_branches(call(**states)) == expected


def test_analyze_sends_the_pending_branches():
    report = p.Report(p.PLANNED, call=call(audio_branch=PENDING))
    assert p.next_tasks(p.ANALYZE, report) == [p.TRANSCRIPT_METRICS, p.FETCH_RECORDING, p.LLM_JUDGES]


@pytest.mark.parametrize("stage", [p.TRANSCRIPT_METRICS, p.FETCH_RECORDING, p.AUDIO_METRICS, p.LLM_JUDGES])
def test_a_branch_end_sends_the_code_judges_only_from_the_commit_that_ended_the_last_branch(stage):
    assert p.next_tasks(stage, p.Report(p.BRANCH_ENDED, join_ready=False)) == []
    assert p.next_tasks(stage, p.Report(p.BRANCH_ENDED, join_ready=True)) == [p.CODE_JUDGES]


def test_a_stored_recording_is_analysed_next_and_a_generated_transcript_is_judged():
    assert p.next_tasks(p.FETCH_RECORDING, p.Report(p.RECORDING_STORED)) == [p.AUDIO_METRICS]
    assert p.next_tasks(p.AUDIO_METRICS, p.Report(p.TRANSCRIBED)) == [p.LLM_JUDGES]
    assert p.next_tasks(p.AUDIO_METRICS, p.Report(p.TRANSCRIBED, join_ready=True)) == [p.LLM_JUDGES, p.CODE_JUDGES]


def test_code_judges_then_finalize_then_the_webhooks():
    assert p.next_tasks(p.CODE_JUDGES, p.Report(p.JUDGED)) == [p.FINALIZE]
    assert p.next_tasks(p.FINALIZE, p.Report(p.DECIDED)) == [p.DISPATCH_WEBHOOKS]


def test_an_outcome_a_stage_cannot_report_is_an_error():
    with pytest.raises(KeyError):
        p.next_tasks(p.FINALIZE, p.Report(p.BRANCH_ENDED))


def test_the_rules_cover_every_stage_and_name_only_stages_or_steps():
    assert {stage for stage, _ in p.RULES} == set(STAGES)
    targets = {step for steps in p.RULES.values() for step in steps}
    assert targets <= set(STAGES) | {p.JOIN, p.PENDING_BRANCHES, p.DISPATCH_WEBHOOKS}


def test_the_join_is_reached_from_every_start():
    """Walk the rules from analyze with every branch ending: some path always reaches finalize."""
    seen, frontier = set(), [p.ANALYZE]
    ended = {what: p.Report(what, join_ready=True, call=call(audio_branch=PENDING))
             for what in (p.PLANNED, p.BRANCH_ENDED, p.RECORDING_STORED, p.TRANSCRIBED, p.JUDGED, p.DECIDED)}
    while frontier:
        stage = frontier.pop()
        seen.add(stage)
        for (name, what), _ in p.RULES.items():
            if name == stage:
                frontier += [t for t in p.next_tasks(stage, ended[what]) if t not in seen]
    assert seen == set(STAGES) | {p.DISPATCH_WEBHOOKS}


def test_branches_and_their_terminal_states_are_the_tables_of_app_status():
    assert set(BRANCHES) == {"transcript_branch", "audio_branch", "llm_branch"}
    assert {DONE, FAILED, NOT_APPLICABLE} == BRANCH_TERMINAL


# final status
def test_final_status():
    assert p.final_status(None, []) == ("computed", None, None)
    assert p.final_status(None, ["latency_ms", "Polite"]) == ("failed", "metric_failed",
                                                               "Metrics failed: latency_ms, Polite.")
    assert p.final_status(("recording_unreachable", "404"), ["latency_ms"]) == ("failed", "recording_unreachable", "404")


def test_llm_judges_and_the_generated_transcript():
    assert p.transcript_coming(call(transcript=None, transcription_status=PENDING), transcriber_on=True)
    assert not p.transcript_coming(call(transcript=None, transcription_status=PENDING), transcriber_on=False)
    assert not p.transcript_coming(call(transcript=None), transcriber_on=True)
    assert p.transcript_coming(call(), transcriber_on=False)
    assert p.judges_wait_for_audio(call(transcript=None))
    assert not p.judges_wait_for_audio(call()) and not p.judges_wait_for_audio(call(transcript=None, llm_branch=DONE))


# the retry policy
def test_backoff_doubles_with_jitter_and_is_capped():
    policy = RetryPolicy(retries=8, base_seconds=2.0)
    for n in range(8):
        assert min(MAX_RETRY_DELAY, 2.0 * 2 ** n) / 2 <= policy.delay(n) <= min(MAX_RETRY_DELAY, 2.0 * 2 ** n)
    assert policy.delay(20) <= MAX_RETRY_DELAY
    assert policy.delay(0, retry_after=7.0) == 7.0 and policy.delay(0, retry_after=10_000) == MAX_RETRY_DELAY
    assert policy.retries_left(7) and not policy.retries_left(8)


def test_the_fetch_retry_setting_is_the_budget_however_large():
    from tests.conftest import make_settings

    settings = make_settings("postgresql://x@127.0.0.1/x", "redis://127.0.0.1:1/0", fetch_retries="8")
    assert p.retry_policy(settings).retries == 8


def test_only_the_pipeline_sends_tasks():
    """Every publish in worker code goes through workers/pipeline.py (stages return reports)."""
    sending = re.compile(r"\.send\(|send_task\(|apply_async\(|\bchain\(|signature\(")
    offenders = [f"{path}:{n}" for path in Path("workers").rglob("*.py") if path.as_posix() != "workers/pipeline.py"
                 for n, line in enumerate(path.read_text().splitlines(), 1) if sending.search(line)]
    assert offenders == []
