"""calls.transcript_metrics: timing metrics from the provided transcript (docs/metrics.md#where-the-numbers-come-from)."""
from __future__ import annotations

from app.catalogue import thresholds_for
from app.db import results as results_db
from app.db.pipeline import CallRow
from app.db.pool import transaction
from app.status import DONE, PENDING, TRANSCRIPT_BRANCH
from workers.context import WorkerDeps
from workers.metrics.inputs import from_transcript
from workers.metrics.registry import compute
from workers.pipeline import BRANCH_ENDED, TRANSCRIPT_METRICS, Report, stage
from workers.stages.common import end_branch, write_outcomes


@stage(TRANSCRIPT_METRICS)
def compute_transcript_metrics(deps: WorkerDeps, call: CallRow) -> Report | None:
    if call[TRANSCRIPT_BRANCH] != PENDING:
        return None
    call_id = call["id"]
    with transaction(deps.pool) as conn:
        keys = results_db.pending_keys_of_branch(conn, call_id, "transcript")
    data = from_transcript(call["transcript"], call["call_direction"], thresholds_for(call["analysis_settings"]))
    outcomes = {key: compute(key, data) for key in keys}
    with transaction(deps.pool) as conn:
        write_outcomes(conn, call_id, outcomes, "transcript")
        join_ready = end_branch(conn, call_id, TRANSCRIPT_BRANCH, DONE)
    return Report(BRANCH_ENDED, join_ready)
