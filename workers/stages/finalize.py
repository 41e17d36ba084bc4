"""calls.finalize: decide the call's status and success once every branch and judge has ended."""
from __future__ import annotations

from app.db import custom_results as custom_db
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pipeline import CallRow
from app.db.pool import transaction
from app.status import FAILED
from workers.context import WorkerDeps
from workers.judges.verdicts import call_success, standard_verdicts
from workers.metrics.reported import compare_latency, reported_turn_latencies
from workers.pipeline import DECIDED, FINALIZE, Report, final_status, stage

_UNWRITTEN = "No stage computed this metric."


@stage(FINALIZE)
def finalize_call(deps: WorkerDeps, call: CallRow) -> Report:
    call_id = call["id"]
    with transaction(deps.pool) as conn:
        for key in results_db.pending_metric_keys(conn, call_id):
            # A branch ended without writing this result: say so rather than leave it pending.
            results_db.complete_result(conn, call_id, key, FAILED, error_code="internal_error",
                                       error_message=_UNWRITTEN)
        custom_db.fail_pending_custom_results(conn, call_id, "internal_error", _UNWRITTEN)
        _add_reported_latency(conn, call)
        results = results_db.call_results(conn, call_id)
        verdicts = standard_verdicts(call["standard_criteria"], results)
        for key, (passed, critical) in verdicts.items():
            results_db.set_verdict(conn, call_id, key, passed, critical)
        custom = custom_db.call_custom_results(conn, call_id)
        failure = (call["failure_code"], call["failure_message"] or "") if call["failure_code"] else None
        failed = [r["metric_key"] for r in results if r["status"] == FAILED]
        failed += [r["name"] for r in custom if r["status"] == FAILED]
        status, code, message = final_status(failure, failed)
        critical_verdicts: list[bool | None] = [p for p, c in verdicts.values() if c]
        critical_verdicts += [False if r["status"] == FAILED else r["passed"] for r in custom if r["critical"]]
        success = call_success(critical_verdicts, call_failed=bool(call["failure_code"]))
        pipeline_db.finalize_call(conn, call_id, status, success, code, message)
        pipeline_db.finish_stage(conn, call_id, FINALIZE)
    return Report(DECIDED)


def _add_reported_latency(conn, call: CallRow) -> None:
    """A platform call's own per-turn latency goes next to the measured one, in latency_ms's
    result (`reported`); rewritten identically on a redelivery."""
    platform = (call["metadata"] or {}).get("platform")
    reported = reported_turn_latencies(platform) if isinstance(platform, dict) else None
    if reported is None:
        return
    measured = results_db.computed_result_data(conn, call["id"], "latency_ms")
    if measured is not None:
        results_db.add_to_result_data(conn, call["id"], "latency_ms", "reported", compare_latency(measured, *reported))
