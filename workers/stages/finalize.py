"""calls.finalize: decide the call's status and success once both branches have ended."""
from __future__ import annotations

from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pool import transaction
from workers.context import WorkerDeps
from workers.pipeline import FINALIZE
from workers.stages.common import begin_stage


def decide_status(call: dict, results: list[dict]) -> tuple[str, str | None, str | None]:
    """(analysis_status, failure code, message): failed when the call could not be analysed or
    any metric failed; computed when every result is computed or skipped."""
    if call["failure_code"]:
        return "failed", call["failure_code"], call["failure_message"]
    failed = [r["metric_key"] for r in results if r["status"] == "failed"]
    if failed:
        return "failed", "metric_failed", f"Metrics failed: {', '.join(failed)}."
    return "computed", None, None


def decide_call_success(status: str) -> bool | None:
    """A call succeeds when every critical metric passed; with no critical metrics defined yet
    (custom metrics and per-agent criteria arrive later) an analysed call succeeds, and a call
    that could not be analysed has no verdict (null)."""
    return True if status == "computed" else None


def finalize_call(deps: WorkerDeps, call_id: int) -> None:
    call = begin_stage(deps, call_id, FINALIZE)
    if call is None:
        return
    with transaction(deps.pool) as conn:
        for key in results_db.pending_metric_keys(conn, call_id):
            # A branch ended without writing this result: say so rather than leave it pending.
            results_db.complete_result(conn, call_id, key, "failed", error_code="internal_error",
                                       error_message="No stage computed this metric.")
        results = results_db.call_results(conn, call_id)
        status, code, message = decide_status(call, results)
        pipeline_db.finalize_call(conn, call_id, status, decide_call_success(status), code, message)
        pipeline_db.finish_stage(conn, call_id, FINALIZE)
