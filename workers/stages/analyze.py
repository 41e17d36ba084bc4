"""calls.analyze: plan the call's metrics; the pipeline then sends its branches (safe to re-run)."""
from __future__ import annotations

from app.db import custom_results as custom_db
from app.db import results as results_db
from app.db.pipeline import CallRow
from app.db.pool import transaction
from app.status import DONE, LLM_BRANCH, PENDING, SKIPPED
from workers.context import WorkerDeps
from workers.metrics.registry import Outcome
from workers.pipeline import ANALYZE, PLANNED, Report, plan_metrics, stage, transcript_coming
from workers.stages.common import end_unjudged_llm_branch, write_outcomes


@stage(ANALYZE)
def analyze_call(deps: WorkerDeps, call: CallRow) -> Report:
    """Record which branch computes each standard metric (metric_results.planned_branch), so a
    branch that fails fails only its own metrics; skip what nothing can compute."""
    call_id = call["id"]
    with transaction(deps.pool) as conn:
        plan = plan_metrics(call, results_db.pending_metric_keys(conn, call_id))
        skipped = {key: Outcome(SKIPPED, error_code=reason) for key, reason in plan["skip"].items()}
        write_outcomes(conn, call_id, skipped, "transcript")
        for branch in ("transcript", "audio"):
            results_db.plan_results(conn, call_id, branch, plan[branch])
        if call[LLM_BRANCH] == PENDING and not (
                transcript_coming(call, deps.transcriber is not None) and custom_db.pending_judgements(conn, call_id, "llm")):
            # nothing to judge, or no transcript to judge it on (ever): the branch ends here
            end_unjudged_llm_branch(conn, call_id, None)
            call = {**call, "llm_branch": DONE}
    return Report(PLANNED, call=call)
