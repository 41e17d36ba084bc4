"""Statuses and their allowed transitions, as data.

Every change of a call's analysis status or of a pipeline branch is a compare-and-set update
(`WHERE status = <from>`) in app/db, written to `call_status_history` in the same transaction.
"""
from __future__ import annotations

PENDING, COMPUTED, FAILED, SKIPPED = "pending", "computed", "failed", "skipped"

# calls.analysis_status
ANALYSIS_TRANSITIONS = {
    PENDING: {COMPUTED, FAILED},
    COMPUTED: {PENDING},  # reanalyze (a later issue) sends a finished call back to pending
    FAILED: {PENDING},
}

# calls.transcription_status: transcription of the recording runs once, in the audio branch.
TRANSCRIPTION_TRANSITIONS = {PENDING: {"completed", FAILED}}

# metric_results.status: a pending result is written exactly once.
RESULT_TRANSITIONS = {PENDING: {COMPUTED, FAILED, SKIPPED}}

# The branches of the pipeline (SPEC 3). The join fires when all are terminal.
BRANCHES = ("transcript_branch", "audio_branch", "llm_branch")
BRANCH_TRANSITIONS = {
    "transcript_branch": {"pending": {"done"}},
    # audio: download+probe → fetched; metrics → done; any permanent failure → failed
    "audio_branch": {"pending": {"fetched", "failed"}, "fetched": {"done", "failed"}},
    # LLM judges: run once a transcript exists; done also when there was nothing to judge
    "llm_branch": {"pending": {"done"}},
}
BRANCH_TERMINAL = {"done", "failed", "not_applicable"}


def can_transition(table: dict[str, set[str]], current: str, new: str) -> bool:
    """True when `current → new` is listed in `table`."""
    return new in table.get(current, set())
