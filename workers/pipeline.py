"""The only place the stage order, the metric-to-branch plan and the join live (SPEC 3).

    calls.analyze ─┬─> calls.transcript_metrics ─────────────────────┐
                   ├─> calls.llm_judges (once a transcript exists) ───┤
                   └─> calls.fetch_recording ─> calls.audio_metrics ─┴─> (join in Postgres)
                                                   ─> calls.code_judges ─> calls.finalize

calls.analyze records which branch computes each metric (metric_results.planned_branch), so a
branch that fails fails only its own metrics.

Each task takes only the call id. A branch ends by moving its state in `calls` under a row
lock; the transaction that makes the last branch terminal is told so and enqueues finalize
after it commits. If that send is lost, the sweeper's re-run of calls.analyze sends it.
"""
from __future__ import annotations

from app import catalogue

ANALYZE = "calls.analyze"
TRANSCRIPT_METRICS = "calls.transcript_metrics"
FETCH_RECORDING = "calls.fetch_recording"
AUDIO_METRICS = "calls.audio_metrics"
LLM_JUDGES = "calls.llm_judges"
CODE_JUDGES = "calls.code_judges"
FINALIZE = "calls.finalize"
# what the join starts: code judges read every other result, then the call is decided
AFTER_JOIN = (CODE_JUDGES, FINALIZE)
SWEEP = "calls.sweep"

_VOICE_ONLY = {m.key for m in catalogue.STANDARD_METRICS if m.voice_only}
AUDIO_ONLY = {m.key for m in catalogue.STANDARD_METRICS if m.audio_only}


def plan_metrics(call: dict, pending_keys: list[str]) -> dict:
    """Who computes each pending standard metric: {"transcript": [...], "audio": [...], "skip": {key: reason}}.

    With a voice recording the turn-taking metrics come from the audio (audio wins over the
    transcript's timings); otherwise from the transcript; with neither they are skipped.
    """
    plan: dict = {"transcript": [], "audio": [], "skip": {}}
    audio = call["observation_type"] == "voice" and call["audio_branch"] != "not_applicable"
    for key in pending_keys:
        if call["observation_type"] == "text" and key in _VOICE_ONLY:
            plan["skip"][key] = "text_observation"
        elif audio:
            plan["audio"].append(key)
        elif key in AUDIO_ONLY:
            plan["skip"][key] = "no_recording"
        elif call["transcript"]:
            plan["transcript"].append(key)
        else:
            plan["skip"][key] = "no_transcript"
    return plan


def next_tasks(call: dict) -> list[list[str]]:
    """The chains to send for a pending call, from its branch states (idempotent re-dispatch)."""
    if call["analysis_status"] != "pending":
        return []
    chains = []
    if call["transcript_branch"] == "pending":
        chains.append([TRANSCRIPT_METRICS])
    if call["audio_branch"] == "pending":
        chains.append([FETCH_RECORDING, AUDIO_METRICS])
    elif call["audio_branch"] == "fetched":
        chains.append([AUDIO_METRICS])
    if call["llm_branch"] == "pending" and call["transcript"]:
        chains.append([LLM_JUDGES])
    if not chains and all(call[b] != "pending" for b in ("transcript_branch", "audio_branch", "llm_branch")):
        chains.append(list(AFTER_JOIN))  # every branch ended; the join's send may have been lost
    return chains
