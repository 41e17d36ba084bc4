"""calls.llm_judges and calls.code_judges: the custom metrics of a call (docs/metrics.md#custom-metrics)."""
from __future__ import annotations

import logging

from app.db import custom_results as custom_db
from app.db import results as results_db
from app.db.pipeline import CallRow
from app.db.pool import transaction
from app.status import DONE, FAILED, LLM_BRANCH, PENDING
from workers.context import WorkerDeps
from workers.judges.code import code_context, judge_code
from workers.judges.llm import Judge
from workers.judges.redaction import redact_transcript
from workers.judges.verdicts import Judgement
from workers.pipeline import BRANCH_ENDED, CODE_JUDGES, JUDGED, LLM_JUDGES, Report, stage
from workers.stages.common import end_branch, write_judgements, write_judgements_safely

log = logging.getLogger(__name__)


@stage(LLM_JUDGES)
def run_llm_judges(deps: WorkerDeps, call: CallRow) -> Report | None:
    """Judge the call's pending LLM metrics on its transcript (one batched request), then end
    the LLM branch; the results and the branch move commit together."""
    if call[LLM_BRANCH] != PENDING or not call["transcript"]:
        return None
    call_id = call["id"]
    with transaction(deps.pool) as conn:
        metrics = custom_db.pending_judgements(conn, call_id, "llm")
    assert deps.judge is not None, "the worker's composition root always sets a judge"
    verdicts = judge_llm_metrics(deps.judge, call["transcript"], metrics)
    with transaction(deps.pool) as conn:
        write_judgements(conn, call_id, [(m, verdicts[m["metric_id"]]) for m in metrics])
        join_ready = end_branch(conn, call_id, LLM_BRANCH, DONE)
    return Report(BRANCH_ENDED, join_ready)


def judge_llm_metrics(judge: Judge, transcript: list[dict], metrics: list[dict]) -> dict[int, Judgement]:
    """One batched request for the metrics that read the transcript as it is, one for those that
    read it redacted (docs/metrics.md#redaction); the provider never sees both in one request."""
    verdicts: dict[int, Judgement] = {}
    for redacted in (False, True):
        group = [m for m in metrics if bool(m.get("redact")) is redacted]
        if group:
            verdicts.update(judge.judge(redact_transcript(transcript) if redacted else transcript, group))
    return verdicts


@stage(CODE_JUDGES)
def run_code_judges(deps: WorkerDeps, call: CallRow) -> Report:
    """After the join: run each pending code metric in the sandbox on everything computed so far.
    Each result commits on its own, so a redelivery re-runs only the ones not yet written."""
    call_id = call["id"]
    with transaction(deps.pool) as conn:
        metrics = custom_db.pending_judgements(conn, call_id, "code")
        if metrics:
            context = code_context(call, results_db.call_results(conn, call_id),
                                   custom_db.call_custom_results(conn, call_id))
    for metric in metrics:
        assert deps.sandbox is not None, "the worker's composition root always sets a sandbox"
        try:
            verdict = judge_code(deps.sandbox, metric, context)
        except Exception as exc:  # one metric's surprise is its own failure; the others still run
            log.exception("code judge raised", extra={"call_id": call_id, "metric_id": metric["metric_id"]})
            verdict = Judgement(FAILED, error_code="metric_error", error_message=f"{type(exc).__name__}: {exc}")
        write_judgements_safely(deps, call_id, [(metric, verdict)])
    return Report(JUDGED)
