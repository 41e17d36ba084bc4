"""One thin task per stage: messaging, retries and limits only; the work is in workers/stages."""
from __future__ import annotations

from workers import pipeline
from workers.base import StageTask, backoff_delay
from workers.celery_app import celery, deps
from workers.stages import analyze, audio, finalize, judges, recording, sweep, transcript
from workers.stages.common import TransientStageError


@celery.task(name=pipeline.ANALYZE, base=StageTask)
def analyze_call(call_id: int) -> None:
    analyze.analyze_call(deps(), call_id)


@celery.task(name=pipeline.TRANSCRIPT_METRICS, base=StageTask)
def transcript_metrics(call_id: int) -> None:
    transcript.compute_transcript_metrics(deps(), call_id)


@celery.task(name=pipeline.FETCH_RECORDING, base=StageTask, bind=True)
def fetch_recording(self, call_id: int) -> None:
    try:
        recording.fetch_recording(deps(), call_id)
    except TransientStageError as exc:
        settings = deps().settings
        if self.request.retries >= settings.fetch_retries:
            recording.fail_audio_branch(deps(), call_id, exc.code, f"{exc.message} (after {self.request.retries} retries)")
            return
        raise self.retry(countdown=backoff_delay(self.request.retries, settings.retry_backoff_seconds), exc=exc)


@celery.task(name=pipeline.AUDIO_METRICS, base=StageTask)
def audio_metrics(call_id: int) -> None:
    audio.compute_audio_metrics(deps(), call_id)


@celery.task(name=pipeline.LLM_JUDGES, base=StageTask)
def llm_judges(call_id: int) -> None:
    judges.run_llm_judges(deps(), call_id)


@celery.task(name=pipeline.CODE_JUDGES, base=StageTask)
def code_judges(call_id: int) -> None:
    judges.run_code_judges(deps(), call_id)


@celery.task(name=pipeline.FINALIZE, base=StageTask)
def finalize_call(call_id: int) -> None:
    finalize.finalize_call(deps(), call_id)


@celery.task(name=pipeline.SWEEP, acks_late=False)
def sweep_stale_calls() -> dict:
    return sweep.sweep_stale_calls(deps())
