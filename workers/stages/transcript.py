"""calls.transcript_metrics: timing metrics from the provided transcript (SPEC 4.3)."""
from __future__ import annotations

from app.catalogue import thresholds_for
from app.db import results as results_db
from app.db.pool import transaction
from workers.context import WorkerDeps
from workers.metrics.inputs import from_transcript
from workers.metrics.registry import compute
from workers.pipeline import TRANSCRIPT_METRICS
from workers.stages.common import begin_stage, complete_branch, end_stage


def compute_transcript_metrics(deps: WorkerDeps, call_id: int) -> None:
    call = begin_stage(deps, call_id, TRANSCRIPT_METRICS)
    if call is None or call["transcript_branch"] != "pending":
        return
    with transaction(deps.pool) as conn:
        keys = results_db.pending_keys_of_branch(conn, call_id, "transcript")
    data = from_transcript(call["transcript"], call["call_direction"], thresholds_for(call["analysis_settings"]))
    outcomes = {key: compute(key, data) for key in keys}
    complete_branch(deps, call_id, "transcript_branch", "done", outcomes, source="transcript")
    end_stage(deps, call_id, TRANSCRIPT_METRICS)
