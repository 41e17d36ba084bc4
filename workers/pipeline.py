"""The pipeline's state machine: the only place that decides what runs next (docs/pipeline.md).

    calls.analyze ─┬─> calls.transcript_metrics ──────────────────────────┐
                   ├─> calls.llm_judges (when a transcript exists) ────────┤
                   └─> calls.fetch_recording ─> calls.audio_metrics ───────┴─> join
                                                 └─> calls.llm_judges (when it made the transcript they waited for)
    join ─> calls.code_judges ─> calls.finalize

Stages never send. Each stage body is wrapped by `stage(NAME)`: the wrapper counts the delivery
and loads the call, the body does its work, commits it and returns a `Report` (what happened,
and whether its commit ended the last branch), and `RULES` says what is sent; the wrapper also
times each run and counts its outcome (docs/operations.md#metrics), and picks each task's queue
(`route`, docs/pipeline.md#queues). A body that finds
its work already done returns None and nothing is sent: the commit that did the work sent it.
A failure (`StageFailure`) that may not be retried any more goes to the stage's `exhausted`
handler, which ends its branch with the code and reports like a body.

Each task takes only the call id. The join is in Postgres (`app/db/pipeline.advance_branch`):
exactly one commit sees every branch terminal and reports `join_ready`. A send lost to a broker
outage is made good by the sweeper, whose re-run of calls.analyze sends `pending_branches`.
"""
from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app import catalogue, telemetry
from app.errors import ServiceUnavailable
from app.queue import ANALYZE_TASK, AUDIO_METRICS_TASK, DELIVER_WEBHOOK_TASK, REANALYSIS_JOB_TASK, queue_for
from app.settings import Settings
from app.status import (
    AUDIO_BRANCH,
    BRANCH_TERMINAL,
    BRANCHES,
    COMPUTED,
    FAILED,
    FETCHED,
    LLM_BRANCH,
    NOT_APPLICABLE,
    PENDING,
    TRANSCRIPT_BRANCH,
)
from workers.context import WorkerDeps
from workers.failure import RetryPolicy, StageFailure
from workers.stages.common import begin_stage, end_stage

log = logging.getLogger(__name__)

ANALYZE = ANALYZE_TASK  # the web process sends it by this name (app/queue.py)
TRANSCRIPT_METRICS = "calls.transcript_metrics"
FETCH_RECORDING = "calls.fetch_recording"
AUDIO_METRICS = AUDIO_METRICS_TASK
LLM_JUDGES = "calls.llm_judges"
CODE_JUDGES = "calls.code_judges"
FINALIZE = "calls.finalize"
SWEEP = "calls.sweep"
DISPATCH_WEBHOOKS = "webhooks.dispatch"  # the call's webhook deliveries, sent at once (docs/webhooks.md)
DELIVER_WEBHOOK = DELIVER_WEBHOOK_TASK
POLL_WEBHOOKS = "webhooks.poll"          # beat: deliveries due for a retry (and stalled re-analysis jobs)
REANALYSIS_JOB = REANALYSIS_JOB_TASK     # one batch of a bulk re-analysis, then the next one a second later
ERASE_EXPIRED = "calls.erase_expired"    # beat: the retention sweep (app/service/erasure.py)

# What a stage reports (Report.what)
PLANNED = "planned"            # analyze: metrics planned; branches with nothing to do ended
BRANCH_ENDED = "branch_ended"  # the stage's branch reached a terminal state
RECORDING_STORED = "recording_stored"  # fetch: the recording is in storage, its analysis is next
TRANSCRIBED = "transcribed"    # audio: branch ended, and it made the transcript the LLM judges waited for
JUDGED = "judged"              # code judges: every code metric has its result
DECIDED = "decided"            # finalize: the call has its final status

# Outcomes of a stage run that are not reports (the `outcome` label of callscope_stage_runs_total)
NOTHING_TO_DO = "nothing_to_do"  # the call was final or the work already done
FAILED_RUN = "failed"            # the failure ended the branch (exhausted) or had nowhere to go
RETRY = "retry"                  # a transient failure, raised for the task to retry

# Steps of RULES besides task names
JOIN = "join"                          # the code judges, only if this commit ended the last branch
PENDING_BRANCHES = "pending_branches"  # every branch still to run (pending_branches)

RULES: Mapping[tuple[str, str], tuple[str, ...]] = {
    (ANALYZE, PLANNED): (PENDING_BRANCHES,),
    (TRANSCRIPT_METRICS, BRANCH_ENDED): (JOIN,),
    (FETCH_RECORDING, RECORDING_STORED): (AUDIO_METRICS,),
    (FETCH_RECORDING, BRANCH_ENDED): (JOIN,),
    (AUDIO_METRICS, BRANCH_ENDED): (JOIN,),
    (AUDIO_METRICS, TRANSCRIBED): (LLM_JUDGES, JOIN),
    (LLM_JUDGES, BRANCH_ENDED): (JOIN,),
    (CODE_JUDGES, JUDGED): (FINALIZE,),
    (FINALIZE, DECIDED): (DISPATCH_WEBHOOKS,),
}

_VOICE_ONLY = {m.key for m in catalogue.STANDARD_METRICS if m.voice_only}
AUDIO_ONLY = {m.key for m in catalogue.STANDARD_METRICS if m.audio_only}


@dataclass(frozen=True)
class Report:
    """What a stage did, after its commit. `call`: the call's states after analyze's commit."""

    what: str
    join_ready: bool = False
    call: Mapping[str, Any] | None = None


def next_tasks(stage: str, report: Report) -> list[str]:
    """The tasks to send after `stage` reported `report` (KeyError: an outcome the table lacks)."""
    tasks: list[str] = []
    for step in RULES[(stage, report.what)]:
        if step == JOIN:
            if report.join_ready:
                tasks.append(CODE_JUDGES)
        elif step == PENDING_BRANCHES:
            tasks.extend(pending_branches(report.call or {}))
        else:
            tasks.append(step)
    return tasks


def pending_branches(call: Mapping[str, Any]) -> list[str]:
    """The tasks a pending call still needs, from its branch states. Safe to send again: every
    stage finds work already done and does nothing (the sweeper's re-run of analyze relies on it)."""
    if call.get("analysis_status") != PENDING:
        return []
    tasks = []
    if call[TRANSCRIPT_BRANCH] == PENDING:
        tasks.append(TRANSCRIPT_METRICS)
    if call[AUDIO_BRANCH] == PENDING:
        tasks.append(FETCH_RECORDING)
    elif call[AUDIO_BRANCH] == FETCHED:
        tasks.append(AUDIO_METRICS)
    if call[LLM_BRANCH] == PENDING and call["transcript"]:
        tasks.append(LLM_JUDGES)
    if all(call[b] in BRANCH_TERMINAL for b in BRANCHES):
        tasks.append(CODE_JUDGES)  # every branch ended; the join's send may have been lost
    return tasks


def plan_metrics(call: Mapping[str, Any], pending_keys: list[str]) -> dict:
    """Who computes each pending standard metric: {"transcript": [...], "audio": [...], "skip": {key: reason}}.

    With a voice recording the turn-taking metrics come from the audio (audio wins over the
    transcript's timings, docs/metrics.md#where-the-numbers-come-from); otherwise from the
    transcript; with neither they are skipped.
    """
    plan: dict = {"transcript": [], "audio": [], "skip": {}}
    audio = call["observation_type"] == "voice" and call[AUDIO_BRANCH] != NOT_APPLICABLE
    for key in pending_keys:
        if call["observation_type"] == "text" and key in _VOICE_ONLY:
            plan["skip"][key] = "text_observation"
        elif audio:
            plan["audio"].append(key)
        elif key in AUDIO_ONLY:
            plan["skip"][key] = "no_recording"
        elif call["transcript"]:
            plan["transcript"].append(key)
        else:
            plan["skip"][key] = "no_transcript"
    return plan


def transcript_coming(call: Mapping[str, Any], transcriber_on: bool) -> bool:
    """Whether the LLM judges will have a transcript: provided, or to be generated by the audio
    branch — which needs this worker's transcriber (the worker's setting, not the web's)."""
    return bool(call["transcript"]) or (transcriber_on and call["transcription_status"] == PENDING)


def judges_wait_for_audio(call: Mapping[str, Any]) -> bool:
    """The LLM judges wait for the transcript the audio branch is to generate: when that branch
    ends without one, it ends theirs too."""
    return call[LLM_BRANCH] == PENDING and not call["transcript"]


def final_status(failure: tuple[str, str] | None, failed_metrics: list[str]) -> tuple[str, str | None, str | None]:
    """(analysis_status, failure code, message): failed when the call could not be analysed
    (`failure`, the first recorded) or any metric failed; else computed."""
    if failure:
        return FAILED, failure[0], failure[1]
    if failed_metrics:
        return FAILED, "metric_failed", f"Metrics failed: {', '.join(failed_metrics)}."
    return COMPUTED, None, None


def retry_policy(settings: Settings) -> RetryPolicy:
    """Transient failures of the outside world (recording host, store, transcriber) are retried
    CALLSCOPE_FETCH_RETRIES times from CALLSCOPE_RETRY_BACKOFF_SECONDS (docs/configuration.md)."""
    return RetryPolicy(settings.fetch_retries, settings.retry_backoff_seconds)


Body = Callable[..., Report | None]
Exhausted = Callable[[WorkerDeps, Any, StageFailure], Report]


def stage(name: str, exhausted: Exhausted | None = None) -> Callable[[Body], Callable[..., None]]:
    """Run a stage body under the pipeline (see the module docstring). The wrapped function takes
    (deps, call_id, retries_done=0); a body that declares `final_try` is told whether the retry
    policy leaves no retry after this one. A StageFailure goes to `exhausted` when it is
    permanent or on the final try; a transient one with retries left is raised for the task to
    retry (workers/base.py). Without `exhausted` it is raised: the stage has no failure to map."""

    def wrap(body: Body) -> Callable[..., None]:
        wants_final_try = "final_try" in inspect.signature(body).parameters

        @functools.wraps(body)
        def run(deps: WorkerDeps, call_id: int, retries_done: int = 0) -> None:
            # timed and counted by outcome (docs/operations.md#metrics)
            with telemetry.timed_stage(name) as record:
                try:
                    record["outcome"] = run_once(deps, call_id, retries_done)
                except StageFailure as failure:  # raised for the task to retry, or a stage without `exhausted`
                    record["outcome"] = RETRY if failure.transient else FAILED_RUN
                    if not failure.transient:
                        telemetry.STAGE_FAILURES.labels(name, failure.code).inc()
                    raise
                except ServiceUnavailable:  # the database is away: the task retries (workers/base.py)
                    record["outcome"] = RETRY
                    raise

        def run_once(deps: WorkerDeps, call_id: int, retries_done: int) -> str:
            call = begin_stage(deps, call_id, name, retries_done)
            if call is None:
                return NOTHING_TO_DO
            final_try = not retry_policy(deps.settings).retries_left(retries_done)
            try:
                report = body(deps, call, final_try=final_try) if wants_final_try else body(deps, call)
            except StageFailure as failure:
                if exhausted is None or (failure.transient and not final_try):
                    raise
                if failure.transient:
                    failure = StageFailure(failure.code, f"{failure.message} (after {retries_done} retries)")
                log.info("stage failed", extra={"call_id": call_id, "task": name, "code": failure.code,
                                                "reason": failure.message})
                telemetry.STAGE_FAILURES.labels(name, failure.code).inc()
                report = exhausted(deps, call, failure)
                what = FAILED_RUN
            else:
                what = report.what if report is not None else NOTHING_TO_DO
            if report is None:
                return what
            for task in next_tasks(name, report):
                deps.send(task, call_id, queue=route(task, report.call or call, deps.settings.transcriber != "none"))
            end_stage(deps, call_id, name)
            return what

        return run

    return wrap


def route(task: str, call: Mapping[str, Any], transcriber_on: bool) -> str:
    """The queue of a stage sent for `call` (app/queue.py holds the routes): the audio stage of a
    call whose transcript is still to be generated goes to the transcription workers — when the
    deployment transcribes at all (CALLSCOPE_TRANSCRIBER, the same on every worker that sends
    it); without a transcriber it is decoding only and stays on the audio queue."""
    return queue_for(task, transcribing=transcriber_on and call.get("transcription_status") == PENDING)


def send_deliveries(deps: WorkerDeps, delivery_ids: list[int]) -> int:
    """Beat's webhook poll: one delivery task per due delivery (docs/webhooks.md)."""
    for delivery_id in delivery_ids:
        deps.send(DELIVER_WEBHOOK, delivery_id)
    return len(delivery_ids)


def continue_job(deps: WorkerDeps, job_id: int, reset_calls: list[int], more: bool, delay: float) -> None:
    """After a re-analysis batch committed: its calls are analysed, the next batch follows `delay` later."""
    for call_id in reset_calls:
        deps.send(ANALYZE, call_id)
    if more:
        deps.send(REANALYSIS_JOB, job_id, countdown=delay)


def resume_jobs(deps: WorkerDeps, job_ids: list[int]) -> None:
    for job_id in job_ids:
        deps.send(REANALYSIS_JOB, job_id)


def redispatch(deps: WorkerDeps, call_id: int) -> None:
    """The sweeper's way back in: calls.analyze again (it re-sends what the call still needs)."""
    deps.send(ANALYZE, call_id)


def publisher(celery: Any) -> Callable[[str, int], None]:
    """The send function of WorkerDeps: publish a stage by name. A broker outage is logged, not
    raised: the call stays pending in Postgres and the sweeper re-dispatches it."""

    def send(task_name: str, call_id: int, countdown: float | None = None, queue: str | None = None) -> None:
        try:
            celery.send_task(task_name, args=(call_id,), queue=queue or queue_for(task_name), countdown=countdown)
        except Exception as exc:  # kombu raises many types; any of them leaves the call to the sweeper
            log.warning("send failed; the sweeper will retry",
                        extra={"call_id": call_id, "task": task_name, "error": repr(exc)})

    return send
