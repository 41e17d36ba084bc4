"""calls.audio_metrics: one decode of the stored recording feeds speech activity per channel,
the transcription of each channel and the AI voice measurements; then the audio branch's
metrics (`source: "audio"`), with the segments, the channel decision and the generated
transcript stored on the call. A call whose transcript is generated here gets its LLM judges
dispatched from here (SPEC 3)."""
from __future__ import annotations

import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

from app.catalogue import thresholds_for
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pool import transaction
from app.errors import FAILURE_CODES
from workers.asr.base import TranscriptionFailed
from workers.asr.transcript import build_transcript
from workers.audio.activity import VadParams
from workers.audio.analysis import SpeechAnalysis, analyse_recording
from workers.audio.decode import DecodeError
from workers.audio.spill import ChannelSpill
from workers.audio.voice import measure_ai_voice
from workers.context import WorkerDeps
from workers.metrics.inputs import MetricInput, from_transcript
from workers.metrics.registry import Outcome, compute
from workers.pipeline import AUDIO_METRICS, LLM_JUDGES
from workers.stages.common import TransientStageError, begin_stage, complete_branch, end_stage
from workers.stages.recording import fail_audio_branch

log = logging.getLogger(__name__)
_VOICE_KEYS = {"voice_tone_clarity", "voice_change_detection"}
# the transcriber broke (not: was off, or a mono recording gave it nothing to attribute)
_TRANSCRIPTION_BROKE = {"transcription_unavailable", "transcription_failed"}
_NEEDED_A_TRANSCRIPT = {"no_transcript", "no_generated_transcript"}


def compute_audio_metrics(deps: WorkerDeps, call_id: int, final_try: bool = False) -> None:
    """`final_try`: the task has no retry left, so a transcriber that is still unavailable no
    longer retries the stage: the call is analysed without the transcript (speech activity does
    not need it) and what needed the transcript fails `transcription_unavailable`."""
    call = begin_stage(deps, call_id, AUDIO_METRICS)
    if call is None or call["audio_branch"] != "fetched":
        return  # not fetched (the chain's fetch failed and ended the branch) or already done
    thresholds = thresholds_for(call["analysis_settings"])
    params = VadParams(merge_gap_ms=thresholds["merge_gap_ms"], min_segment_ms=thresholds["min_segment_ms"])
    with transaction(deps.pool) as conn:
        keys = results_db.pending_keys_of_branch(conn, call_id, "audio")
    with tempfile.TemporaryDirectory(prefix="callscope-audio-") as workdir:
        path = os.path.join(workdir, "recording")
        try:
            deps.storage.get_file(call["recording_key"], path)
        except Exception as exc:  # the store may be back on the next try
            raise TransientStageError("storage_unavailable", f"Reading the recording failed: {type(exc).__name__}") from exc
        spill = ChannelSpill(workdir)
        try:
            analysis = analyse_recording(path, call["ai_channel"], call["transcript"], params, spill)
        except DecodeError as exc:
            fail_audio_branch(deps, call_id, "undecodable_audio", str(exc))
            return
        voice_wanted = analysis.speech is not None and bool(_VOICE_KEYS & set(keys))
        generated, transcription_error, voice = transcribe_and_measure(
            deps, analysis, spill.paths, call["transcription_status"] == "pending", voice_wanted, final_try)
    with transaction(deps.pool) as conn:
        pipeline_db.set_speech(conn, call_id, analysis.as_dict())
        if call["transcription_status"] == "pending":
            pipeline_db.set_transcription(conn, call_id, "failed" if generated is None else "completed",
                                          generated, transcription_error)
    transcript = call["transcript"] or generated
    if analysis.speech is None:
        outcomes = {key: Outcome("skipped", error_code=analysis.skip_reason) for key in keys}
    else:
        data = MetricInput(speech=analysis.speech, words=from_transcript(transcript, call["call_direction"], thresholds).words,
                           call_direction=call["call_direction"], thresholds=thresholds, source="audio", voice=voice,
                           provided=call["transcript"] if call["transcript_source"] == "provided" else None,
                           generated=generated)
        outcomes = {key: compute(key, data) for key in keys}
    broken = (transcription_error, FAILURE_CODES[transcription_error]) \
        if transcription_error in _TRANSCRIPTION_BROKE else None
    if broken:
        outcomes = {key: _blame(outcome, broken) for key, outcome in outcomes.items()}
    # without a provided transcript, the LLM judges waited for this one (or for nothing)
    judge_now = call["llm_branch"] == "pending" and not call["transcript"]
    complete_branch(deps, call_id, "audio_branch", "done", outcomes, source="audio",
                    end_llm_branch=judge_now and generated is None, llm_failure=broken)
    if judge_now and generated is not None:
        deps.send(LLM_JUDGES, call_id)
    end_stage(deps, call_id, AUDIO_METRICS)


def transcribe_and_measure(deps: WorkerDeps, analysis: SpeechAnalysis, paths: list[str], transcribe_now: bool,
                           voice_wanted: bool, final_try: bool = False) -> tuple[list[dict] | None, str | None, dict | None]:
    """(generated transcript, its failure code, AI voice measurements). The voice measurements
    (one core) run in a thread while the transcriber works: its threads leave the CPU idle part of
    the time (tests/bench/asr_bench.py measures the overlap)."""
    with ThreadPoolExecutor(max_workers=1) as beside:
        voice_job = beside.submit(measure_ai_voice, paths[_ai_index(analysis)], list(analysis.speech.ai)) \
            if voice_wanted else None
        generated, error = transcribe(deps, analysis, paths, final_try) if transcribe_now else (None, None)
        return generated, error, voice_job.result() if voice_job else None


def _blame(outcome: Outcome, broken: tuple[str, str]) -> Outcome:
    """A metric skipped for want of the generated transcript failed when the transcriber broke:
    "skipped" would say there was nothing to measure, and nobody would reanalyze it."""
    if outcome.status == "skipped" and outcome.error_code in _NEEDED_A_TRANSCRIPT:
        return Outcome("failed", error_code=broken[0], error_message=broken[1])
    return outcome


def _ai_index(analysis: SpeechAnalysis) -> int:
    return 1 if analysis.ai_channel == "right" else 0


def transcribe(deps: WorkerDeps, analysis: SpeechAnalysis, paths: list[str],
               final_try: bool = False) -> tuple[list[dict] | None, str | None]:
    """(generated transcript, None) or (None, failure code). Each party's channel is transcribed
    on its own; a mono recording needs its parties from a timed transcript. Transient engine
    errors raise TransientStageError (the task retries), on the final try they are
    `transcription_unavailable`."""
    if deps.transcriber is None:
        return None, "transcription_disabled"
    try:
        if len(paths) >= 2:
            ai = _ai_index(analysis)
            speech = [list(analysis.speech.ai), list(analysis.speech.user)] if analysis.speech else None
            ai_words, user_words = deps.transcriber.transcribe_channels([paths[ai], paths[1 - ai]], speech)
            words = {"ai": ai_words, "user": user_words}
        elif analysis.speech is not None:
            mono = deps.transcriber.transcribe(paths[0])
            words = {"ai": [], "user": []}
            for word in mono:
                middle = (word.start + word.end) / 2
                words["ai" if any(s <= middle <= e for s, e in analysis.speech.ai) else "user"].append(word)
        else:
            return None, "mono_without_timed_transcript"
    except TranscriptionFailed as exc:
        if exc.transient and not final_try:
            raise TransientStageError("transcription_unavailable", exc.message) from exc
        if exc.transient:
            log.warning("transcriber still unavailable; analysing without it", extra={"error": exc.message})
            return None, "transcription_unavailable"
        log.warning("transcription failed", extra={"error": exc.message})
        return None, "transcription_failed"
    return build_transcript(words), None
