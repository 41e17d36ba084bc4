"""One thin task per stage: messaging, retries and limits only; the work is in workers/stages and
what runs next in workers/pipeline.py. The stage tasks differ only in name and body, so they are
made from one table."""
from __future__ import annotations

from collections.abc import Callable

from app.service import erasure
from workers import pipeline, reanalysis, webhooks
from workers.base import StageTask
from workers.celery_app import celery, deps
from workers.stages import analyze, audio, finalize, judges, recording, sweep, transcript

STAGES: dict[str, Callable[..., None]] = {
    pipeline.ANALYZE: analyze.analyze_call,
    pipeline.TRANSCRIPT_METRICS: transcript.compute_transcript_metrics,
    pipeline.FETCH_RECORDING: recording.fetch_recording,
    pipeline.AUDIO_METRICS: audio.compute_audio_metrics,
    pipeline.LLM_JUDGES: judges.run_llm_judges,
    pipeline.CODE_JUDGES: judges.run_code_judges,
    pipeline.FINALIZE: finalize.finalize_call,
}


def _stage_task(name: str, stage: Callable[..., None]):
    @celery.task(name=name, base=StageTask, bind=True)
    def run(self: StageTask, call_id: int) -> None:
        self.run_stage(stage, call_id)

    return run


STAGE_TASKS = {name: _stage_task(name, stage) for name, stage in STAGES.items()}


@celery.task(name=pipeline.SWEEP, acks_late=False)
def sweep_stale_calls() -> dict:
    return sweep.sweep_stale_calls(deps())


# Webhooks: one attempt per task, no Celery retry (the schedule lives in Postgres, workers/webhooks.py).
@celery.task(name=pipeline.DELIVER_WEBHOOK, acks_late=True)
def deliver_webhook(delivery_id: int) -> str | None:
    return webhooks.attempt_delivery(deps(), delivery_id)


@celery.task(name=pipeline.DISPATCH_WEBHOOKS, acks_late=True)
def dispatch_webhooks(call_id: int) -> None:
    for delivery_id in webhooks.due_deliveries(deps(), call_id):
        webhooks.attempt_delivery(deps(), delivery_id)


@celery.task(name=pipeline.POLL_WEBHOOKS, acks_late=False)
def poll_webhooks() -> int:
    pipeline.resume_jobs(deps(), reanalysis.stalled_jobs(deps()))
    return pipeline.send_deliveries(deps(), webhooks.due_deliveries(deps()))


@celery.task(name=pipeline.REANALYSIS_JOB, acks_late=True)
def run_reanalysis_job(job_id: int) -> None:
    reset, more = reanalysis.run_job_batch(deps(), job_id)
    pipeline.continue_job(deps(), job_id, reset, more, reanalysis.BATCH_INTERVAL_SECONDS)


@celery.task(name=pipeline.ERASE_EXPIRED, acks_late=False)
def erase_expired_calls() -> dict:
    return erasure.erase_expired(deps().pool, deps().storage)
