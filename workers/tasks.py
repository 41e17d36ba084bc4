"""One thin task per stage: messaging, retries and limits only; the work is in workers/stages."""
from __future__ import annotations

from functools import partial

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


def _audio_stage(task, stage, call_id: int) -> None:
    """Transient failures (network, storage, a remote transcriber) retry with backoff; after
    the last retry the audio branch fails with the error's code."""
    try:
        stage(deps(), call_id)
    except TransientStageError as exc:
        if not _retries_left(task):
            recording.fail_audio_branch(deps(), call_id, exc.code, f"{exc.message} (after {task.request.retries} retries)")
            return
        raise task.retry(countdown=backoff_delay(task.request.retries, deps().settings.retry_backoff_seconds), exc=exc)


def _retries_left(task) -> bool:
    return task.request.retries < deps().settings.fetch_retries


@celery.task(name=pipeline.FETCH_RECORDING, base=StageTask, bind=True)
def fetch_recording(self, call_id: int) -> None:
    _audio_stage(self, recording.fetch_recording, call_id)


@celery.task(name=pipeline.AUDIO_METRICS, base=StageTask, bind=True)
def audio_metrics(self, call_id: int) -> None:
    # on the last try a transcriber outage no longer fails the branch: the audio is analysed without it
    _audio_stage(self, partial(audio.compute_audio_metrics, final_try=not _retries_left(self)), call_id)


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
