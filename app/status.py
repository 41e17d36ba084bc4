"""Statuses and their allowed transitions, as data.

Every change of a call's analysis status or of a pipeline branch is a compare-and-set update
(`WHERE status = <from>`) in app/db, written to `call_status_history` in the same transaction.
"""
from __future__ import annotations

from typing import Final

# Final: the type checker then knows each constant's literal value (rows are TypedDicts).
PENDING: Final = "pending"
COMPUTED: Final = "computed"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
COMPLETED: Final = "completed"            # transcription_status
NOT_APPLICABLE: Final = "not_applicable"  # transcription_status, branches
FETCHED: Final = "fetched"                # audio_branch
DONE: Final = "done"                      # branches

# calls.analysis_status
ANALYSIS_TRANSITIONS = {
    PENDING: {COMPUTED, FAILED},
    COMPUTED: {PENDING},  # re-analysis sends a finished call back to pending (docs/api.md#re-analysis)
    FAILED: {PENDING},
}

# calls.transcription_status: transcription of the recording runs once, in the audio branch;
# not_applicable when the worker has no transcriber (CALLSCOPE_TRANSCRIBER=none).
TRANSCRIPTION_TRANSITIONS = {PENDING: {COMPLETED, FAILED, NOT_APPLICABLE}}

# metric_results.status: a pending result is written exactly once.
RESULT_TRANSITIONS = {PENDING: {COMPUTED, FAILED, SKIPPED}}

# The branches of the pipeline (docs/pipeline.md#the-state-machine), columns of `calls`. The
# join fires when all are terminal.
TRANSCRIPT_BRANCH: Final = "transcript_branch"
AUDIO_BRANCH: Final = "audio_branch"
LLM_BRANCH: Final = "llm_branch"
BRANCHES = (TRANSCRIPT_BRANCH, AUDIO_BRANCH, LLM_BRANCH)
BRANCH_TRANSITIONS = {
    TRANSCRIPT_BRANCH: {PENDING: {DONE}},
    # audio: download+probe → fetched; metrics → done; any permanent failure → failed
    AUDIO_BRANCH: {PENDING: {FETCHED, FAILED}, FETCHED: {DONE, FAILED}},
    # LLM judges: run once a transcript exists; done also when there was nothing to judge
    LLM_BRANCH: {PENDING: {DONE}},
}
BRANCH_TERMINAL = {DONE, FAILED, NOT_APPLICABLE}


def can_transition(table: dict[str, set[str]], current: str, new: str) -> bool:
    """True when `current → new` is listed in `table`."""
    return new in table.get(current, set())
