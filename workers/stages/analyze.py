"""calls.analyze: plan the call's metrics and dispatch its branches (safe to re-run)."""
from __future__ import annotations

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
    for chain in next_tasks(call):
        deps.send(chain[0], call_id, then=chain[1:])
    end_stage(deps, call_id, ANALYZE)
