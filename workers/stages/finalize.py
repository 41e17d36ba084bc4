"""calls.finalize: decide the call's status and success once every branch and judge has ended."""
from __future__ import annotations

from app.db import custom_results as custom_db
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pool import transaction
from workers.context import WorkerDeps
from workers.judges.verdicts import call_success, standard_verdicts
from workers.pipeline import FINALIZE
from workers.stages.common import begin_stage

_UNWRITTEN = "No stage computed this metric."


def decide_status(call: dict, results: list[dict], custom: list[dict]) -> tuple[str, str | None, str | None]:
    """(analysis_status, failure code, message): failed when the call could not be analysed or
    any metric failed; computed when every result is computed or skipped."""
    if call["failure_code"]:
        return "failed", call["failure_code"], call["failure_message"]
    failed = [r["metric_key"] for r in results if r["status"] == "failed"]
    failed += [r["name"] for r in custom if r["status"] == "failed"]
    if failed:
        return "failed", "metric_failed", f"Metrics failed: {', '.join(failed)}."
    return "computed", None, None


def finalize_call(deps: WorkerDeps, call_id: int) -> None:
    call = begin_stage(deps, call_id, FINALIZE)
    if call is None:
        return
    with transaction(deps.pool) as conn:
        for key in results_db.pending_metric_keys(conn, call_id):
            # A branch ended without writing this result: say so rather than leave it pending.
            results_db.complete_result(conn, call_id, key, "failed", error_code="internal_error",
                                       error_message=_UNWRITTEN)
        custom_db.fail_pending_custom_results(conn, call_id, "internal_error", _UNWRITTEN)
        results = results_db.call_results(conn, call_id)
        verdicts = standard_verdicts(call["standard_criteria"], results)
        for key, (passed, critical) in verdicts.items():
            results_db.set_verdict(conn, call_id, key, passed, critical)
        custom = custom_db.call_custom_results(conn, call_id)
        status, code, message = decide_status(call, results, custom)
        critical = [p for p, c in verdicts.values() if c] + [
            False if r["status"] == "failed" else r["passed"] for r in custom if r["critical"]]
        success = call_success(critical, call_failed=bool(call["failure_code"]))
        pipeline_db.finalize_call(conn, call_id, status, success, code, message)
        pipeline_db.finish_stage(conn, call_id, FINALIZE)
