"""calls.llm_judges and calls.code_judges: the custom metrics of a call (SPEC 6)."""
from __future__ import annotations

from app.db import custom_results as custom_db
from app.db import results as results_db
from app.db.pool import transaction
from workers.context import WorkerDeps
from workers.judges.code import code_context, judge_code
from workers.pipeline import CODE_JUDGES, LLM_JUDGES
from workers.stages.common import begin_stage, complete_branch, end_stage, write_judgements


def run_llm_judges(deps: WorkerDeps, call_id: int) -> None:
    """Judge the call's pending LLM metrics on its transcript (one batched request), then end
    the LLM branch; the results and the branch move commit together."""
    call = begin_stage(deps, call_id, LLM_JUDGES)
    if call is None or call["llm_branch"] != "pending" or not call["transcript"]:
        return
    with transaction(deps.pool) as conn:
        metrics = custom_db.pending_judgements(conn, call_id, "llm")
    verdicts = deps.judge.judge(call["transcript"], metrics) if metrics else {}
    complete_branch(deps, call_id, "llm_branch", "done", judged=[(m, verdicts[m["metric_id"]]) for m in metrics])
    end_stage(deps, call_id, LLM_JUDGES)


def run_code_judges(deps: WorkerDeps, call_id: int) -> None:
    """After the join: run each pending code metric in the sandbox on everything computed so far.
    Each result commits on its own, so a redelivery re-runs only the ones not yet written."""
    call = begin_stage(deps, call_id, CODE_JUDGES)
    if call is None:
        return
    with transaction(deps.pool) as conn:
        metrics = custom_db.pending_judgements(conn, call_id, "code")
        if metrics:
            context = code_context(call, results_db.call_results(conn, call_id),
                                   custom_db.call_custom_results(conn, call_id))
    for metric in metrics:
        verdict = judge_code(deps.sandbox, metric, context)
        with transaction(deps.pool) as conn:
            write_judgements(conn, call_id, [(metric, verdict)])
    end_stage(deps, call_id, CODE_JUDGES)
