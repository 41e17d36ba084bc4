"""Building blocks every stage uses: claim a delivery, write results, end a branch (the join), fail a call."""
from __future__ import annotations

import logging

from app import telemetry
from app.db import custom_results as custom_db
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pipeline import CallRow
from app.db.pool import Conn, transaction
from app.errors import FAILURE_CODES, ValidationFailed
from app.status import COMPUTED, DONE, FAILED, LLM_BRANCH, PENDING
from workers.context import WorkerDeps
from workers.failure import StageFailure
from workers.judges.output import UNSTORABLE, storable
from workers.judges.verdicts import Judgement, custom_passed
from workers.metrics.registry import Outcome

log = logging.getLogger(__name__)


def begin_stage(deps: WorkerDeps, call_id: int, stage: str, retries_done: int = 0) -> CallRow | None:
    """Count this delivery (committed before any work, so a delivery that kills its worker is
    counted too) and load the call. None when there is nothing to do: the call is unknown or
    already final, or the stage was delivered too often (the call then fails `worker_lost`).

    Deliveries that are retries (`retries_done`, decided by the retry policy) do not count
    against CALLSCOPE_MAX_STAGE_DELIVERIES: that limit is for redeliveries after a worker died,
    and counting retries made a retry budget above it end `worker_lost`."""
    with transaction(deps.pool) as conn:
        deliveries = pipeline_db.register_delivery(conn, call_id, stage)
        call = pipeline_db.load_call(conn, call_id)
    if deliveries - retries_done > 1:  # started before, and not as a retry: a redelivery
        telemetry.STAGE_REDELIVERIES.labels(stage).inc()
    if call is None or call["analysis_status"] != PENDING:
        return None
    if deliveries - retries_done > deps.settings.max_stage_deliveries:
        log.error("stage delivered too often; giving the call up",
                  extra={"call_id": call_id, "task": stage, "deliveries": deliveries})
        fail_call(deps, call_id, "worker_lost",
                  f"Stage {stage} was started {deliveries} times without finishing.")
        return None
    return call


def end_stage(deps: WorkerDeps, call_id: int, stage: str) -> None:
    with transaction(deps.pool) as conn:
        pipeline_db.finish_stage(conn, call_id, stage)


def write_outcomes(conn: Conn, call_id: int, outcomes: dict[str, Outcome], source: str) -> None:
    """Write each outcome once (pending → terminal); a redelivery's rewrite is a no-op."""
    for key, outcome in outcomes.items():
        results_db.complete_result(
            conn, call_id, key, outcome.status,
            source=source if outcome.status == COMPUTED else None,
            result_data=outcome.result_data, error_code=outcome.error_code, error_message=outcome.error_message,
        )


def write_judgements(conn: Conn, call_id: int, judged: list[tuple[dict, Judgement]]) -> None:
    """Write custom results once (pending → terminal), with their pass verdict. A judgement the
    database could not hold is written as that metric's `unstorable_output` failure instead
    (workers/judges/output.py)."""
    for metric, verdict in judged:
        verdict = storable(verdict)
        custom_db.complete_custom_result(
            conn, call_id, metric["metric_id"], verdict.status, result=verdict.result,
            explanation=verdict.explanation, structured_output=verdict.structured_output,
            passed=custom_passed(metric, verdict), error_code=verdict.error_code,
            error_message=verdict.error_message, usage=verdict.usage, duration_ms=verdict.duration_ms)


def write_judgements_safely(deps: WorkerDeps, call_id: int, judged: list[tuple[dict, Judgement]]) -> None:
    """write_judgements in its own transaction; if Postgres still refuses a value the checks
    did not foresee, each metric of the batch fails `unstorable_output` instead of the call."""
    try:
        with transaction(deps.pool) as conn:
            write_judgements(conn, call_id, judged)
    except ValidationFailed as exc:  # psycopg's DataError, mapped by app/db/pool.py
        log.error("a judgement could not be stored", extra={"call_id": call_id, "reason": exc.details})
        refused = [(metric, Judgement(FAILED, error_code=UNSTORABLE, error_message="The database refused the output.",
                                      usage=verdict.usage, duration_ms=verdict.duration_ms))
                   for metric, verdict in judged]
        with transaction(deps.pool) as conn:
            write_judgements(conn, call_id, refused)


def end_branch(conn: Conn, call_id: int, branch: str, state: str, failure: StageFailure | None = None) -> bool:
    """Move `branch` to `state` (recording `failure` as the call's, when given); True when this
    transaction ended the last branch (the join: the pipeline then sends the code judges)."""
    if failure:
        pipeline_db.record_failure(conn, call_id, failure.code, failure.message)
    _, join_ready = pipeline_db.advance_branch(conn, call_id, branch, state, failure.code if failure else None)
    return join_ready


def end_unjudged_llm_branch(conn: Conn, call_id: int, broken: StageFailure | None) -> bool:
    """The LLM judges waited for a transcript that will not come: they fail with `broken` when
    something broke (the recording, the transcriber: worth a reanalyze), else they are skipped
    (`no_transcript`: nothing to judge). True when this ended the last branch."""
    if broken:
        custom_db.fail_pending_custom_results(conn, call_id, broken.code, broken.message, kind="llm")
    else:
        custom_db.skip_pending_custom_results(conn, call_id, "llm", "no_transcript")
    return end_branch(conn, call_id, LLM_BRANCH, DONE)


def fail_call(deps: WorkerDeps, call_id: int, code: str, message: str | None = None) -> None:
    """The call cannot be analysed: every result still pending fails with `code`, and the call
    ends `failed` at once (a later stage of it finds it final and does nothing)."""
    message = message or FAILURE_CODES.get(code, code)
    with transaction(deps.pool) as conn:
        pipeline_db.record_failure(conn, call_id, code, message)
        for key in results_db.pending_metric_keys(conn, call_id):
            results_db.complete_result(conn, call_id, key, FAILED, error_code=code, error_message=message)
        custom_db.fail_pending_custom_results(conn, call_id, code, message)
        pipeline_db.finalize_call(conn, call_id, FAILED, None, code, message)
