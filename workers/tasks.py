"""One thin task per stage: messaging, retries and limits only; the work is in workers/stages and
what runs next in workers/pipeline.py."""
from __future__ import annotations

from workers import pipeline
from workers.base import StageTask
from workers.celery_app import celery, deps
from workers.stages import analyze, audio, finalize, judges, recording, sweep, transcript


@celery.task(name=pipeline.ANALYZE, base=StageTask, bind=True)
def analyze_call(self, call_id: int) -> None:
    self.run_stage(analyze.analyze_call, call_id)


@celery.task(name=pipeline.TRANSCRIPT_METRICS, base=StageTask, bind=True)
def transcript_metrics(self, call_id: int) -> None:
    self.run_stage(transcript.compute_transcript_metrics, call_id)


@celery.task(name=pipeline.FETCH_RECORDING, base=StageTask, bind=True)
def fetch_recording(self, call_id: int) -> None:
    self.run_stage(recording.fetch_recording, call_id)


@celery.task(name=pipeline.AUDIO_METRICS, base=StageTask, bind=True)
def audio_metrics(self, call_id: int) -> None:
    self.run_stage(audio.compute_audio_metrics, call_id)


@celery.task(name=pipeline.LLM_JUDGES, base=StageTask, bind=True)
def llm_judges(self, call_id: int) -> None:
    self.run_stage(judges.run_llm_judges, call_id)


@celery.task(name=pipeline.CODE_JUDGES, base=StageTask, bind=True)
def code_judges(self, call_id: int) -> None:
    self.run_stage(judges.run_code_judges, call_id)


@celery.task(name=pipeline.FINALIZE, base=StageTask, bind=True)
def finalize_call(self, call_id: int) -> None:
    self.run_stage(finalize.finalize_call, call_id)


@celery.task(name=pipeline.SWEEP, acks_late=False)
def sweep_stale_calls() -> dict:
    return sweep.sweep_stale_calls(deps())
