"""calls.analyze: plan the call's metrics and dispatch its branches (safe to re-run)."""
from __future__ import annotations

from app.db import custom_results as custom_db
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pool import transaction
from workers.context import WorkerDeps
from workers.metrics.registry import Outcome
from workers.pipeline import ANALYZE, next_tasks, plan_metrics
from workers.stages.common import begin_stage, end_stage, write_outcomes


def analyze_call(deps: WorkerDeps, call_id: int) -> None:
    call = begin_stage(deps, call_id, ANALYZE)
    if call is None:
        return
    with transaction(deps.pool) as conn:
        plan = plan_metrics(call, results_db.pending_metric_keys(conn, call_id))
        skipped = {key: Outcome("skipped", error_code=reason) for key, reason in plan["skip"].items()}
        write_outcomes(conn, call_id, skipped, "transcript")
        for branch in ("transcript", "audio"):
            results_db.plan_results(conn, call_id, branch, plan[branch])
        if call["llm_branch"] == "pending" and not _llm_work_ahead(conn, call):
            # nothing to judge (or no transcript to judge it on): the branch ends here; the
            # join is then decided by the other branches (next_tasks below sees it done)
            pipeline_db.advance_branch(conn, call_id, "llm_branch", "done")
            call = {**call, "llm_branch": "done"}
    for chain in next_tasks(call):
        deps.send(chain[0], call_id, then=chain[1:])
    end_stage(deps, call_id, ANALYZE)


def _llm_work_ahead(conn, call: dict) -> bool:
    """Whether LLM judges will run: pending LLM results and a transcript to judge. Without a
    transcript they are skipped `no_transcript` (transcription of recording-only calls arrives
    with the transcription engine)."""
    if not custom_db.pending_judgements(conn, call["id"], "llm"):
        return False
    if call["transcript"]:
        return True
    custom_db.skip_pending_custom_results(conn, call["id"], "llm", "no_transcript")
    return False
