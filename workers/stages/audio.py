"""calls.audio_metrics: one decode of the stored recording feeds speech activity per channel,
the transcription of each channel and the AI voice measurements; then the audio branch's
metrics (`source: "audio"`), with the segments, the channel decision and the generated
transcript stored on the call. A call whose transcript is generated here reports it, and the
pipeline sends its LLM judges (docs/pipeline.md#the-state-machine)."""
from __future__ import annotations

import logging
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor

from app import telemetry
from app.catalogue import thresholds_for
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pipeline import CallRow
from app.db.pool import transaction
from app.errors import FAILURE_CODES
from app.status import AUDIO_BRANCH, COMPLETED, DONE, FAILED, FETCHED, NOT_APPLICABLE, PENDING, SKIPPED
from workers.asr.transcript import build_transcript
from workers.audio.activity import VadParams
from workers.audio.analysis import SpeechAnalysis, analyse_recording
from workers.audio.decode import DecodeError
from workers.audio.spill import ChannelSpill
from workers.audio.voice import measure_ai_voice
from workers.context import WorkerDeps
from workers.failure import StageFailure
from workers.metrics.inputs import MetricInput, from_transcript
from workers.metrics.registry import Outcome, compute
from workers.pipeline import AUDIO_METRICS, BRANCH_ENDED, TRANSCRIBED, Report, judges_wait_for_audio, stage
from workers.stages.common import end_branch, end_unjudged_llm_branch, write_outcomes
from workers.stages.recording import fail_audio_branch

log = logging.getLogger(__name__)
_VOICE_KEYS = {"voice_tone_clarity", "voice_change_detection"}
# the transcriber broke (not: was off, or a mono recording gave it nothing to attribute)
_TRANSCRIPTION_BROKE = {"transcription_unavailable", "transcription_failed"}
_NEEDED_A_TRANSCRIPT = {"no_transcript", "no_generated_transcript"}


@stage(AUDIO_METRICS, exhausted=fail_audio_branch)
def compute_audio_metrics(deps: WorkerDeps, call: CallRow, final_try: bool = False) -> Report | None:
    """`final_try`: no retry is left, so a transcriber that is still unavailable no longer
    retries the stage: the call is analysed without the transcript (speech activity does not
    need it) and what needed the transcript fails `transcription_unavailable`."""
    if call[AUDIO_BRANCH] != FETCHED:
        return None  # not fetched (the fetch failed and ended the branch) or already done
    call_id = call["id"]
    thresholds = thresholds_for(call["analysis_settings"])
    # the API accepts whole milliseconds only (app/api/schemas.py); VadParams counts them as ints
    params = VadParams(merge_gap_ms=int(thresholds["merge_gap_ms"]), min_segment_ms=int(thresholds["min_segment_ms"]))
    with transaction(deps.pool) as conn:
        keys = results_db.pending_keys_of_branch(conn, call_id, "audio")
    with tempfile.TemporaryDirectory(prefix="callscope-audio-") as workdir:
        path = os.path.join(workdir, "recording")
        try:
            deps.storage.get_file(call["recording_key"] or "", path)
        except Exception as exc:  # the store may be back on the next try
            raise StageFailure("storage_unavailable", f"Reading the recording failed: {type(exc).__name__}",
                               transient=True) from exc
        spill = ChannelSpill(workdir)
        try:
            analysis = analyse_recording(path, call["ai_channel"], call["transcript"], params, spill)
        except DecodeError as exc:  # the audio room's own exception, mapped here
            raise StageFailure("undecodable_audio", str(exc)) from exc
        voice_wanted = analysis.speech is not None and bool(_VOICE_KEYS & set(keys))
        generated, transcription_error, voice = transcribe_and_measure(
            deps, analysis, spill.paths, call["transcription_status"] == PENDING, voice_wanted, final_try)
    with transaction(deps.pool) as conn:
        pipeline_db.set_speech(conn, call_id, analysis.as_dict())
        if call["transcription_status"] == PENDING:
            pipeline_db.set_transcription(conn, call_id, transcription_status(generated, transcription_error),
                                          generated, transcription_error)
    transcript = call["transcript"] or generated
    if analysis.speech is None:
        outcomes = {key: Outcome(SKIPPED, error_code=analysis.skip_reason) for key in keys}
    else:
        data = MetricInput(speech=analysis.speech, words=from_transcript(transcript, call["call_direction"], thresholds).words,
                           call_direction=call["call_direction"], thresholds=thresholds, source="audio", voice=voice,
                           provided=call["transcript"] if call["transcript_source"] == "provided" else None,
                           generated=generated)
        outcomes = {key: compute(key, data) for key in keys}
    broken = StageFailure(transcription_error, FAILURE_CODES[transcription_error]) \
        if transcription_error in _TRANSCRIPTION_BROKE else None
    if broken:
        outcomes = {key: _blame(outcome, broken) for key, outcome in outcomes.items()}
    # without a provided transcript, the LLM judges waited for this one (or for nothing)
    judges_waiting = judges_wait_for_audio(call)
    with transaction(deps.pool) as conn:
        write_outcomes(conn, call_id, outcomes, "audio")
        join_ready = end_branch(conn, call_id, AUDIO_BRANCH, DONE)
        if judges_waiting and generated is None:
            join_ready = end_unjudged_llm_branch(conn, call_id, broken) or join_ready
    return Report(TRANSCRIBED if judges_waiting and generated is not None else BRANCH_ENDED, join_ready)


def transcribe_and_measure(deps: WorkerDeps, analysis: SpeechAnalysis, paths: list[str], transcribe_now: bool,
                           voice_wanted: bool, final_try: bool = False) -> tuple[list[dict] | None, str | None, dict | None]:
    """(generated transcript, its failure code, AI voice measurements). The voice measurements
    (one core) run in a thread while the transcriber works: its threads leave the CPU idle part of
    the time (tests/bench/asr_bench.py measures the overlap)."""
    with ThreadPoolExecutor(max_workers=1) as beside:
        # voice_wanted implies speech was found (compute_audio_metrics)
        voice_job = beside.submit(measure_ai_voice, paths[_ai_index(analysis)], list(analysis.speech.ai)) \
            if voice_wanted and analysis.speech is not None else None
        generated, error = transcribe(deps, analysis, paths, final_try) if transcribe_now else (None, None)
        return generated, error, voice_job.result() if voice_job else None


def transcription_status(generated: list[dict] | None, error: str | None) -> str:
    """completed, or failed with the error; not_applicable when this worker has no transcriber."""
    if generated is not None:
        return COMPLETED
    return NOT_APPLICABLE if error == "transcription_disabled" else FAILED


def _blame(outcome: Outcome, broken: StageFailure) -> Outcome:
    """A metric skipped for want of the generated transcript failed when the transcriber broke:
    "skipped" would say there was nothing to measure, and nobody would reanalyze it."""
    if outcome.status == SKIPPED and outcome.error_code in _NEEDED_A_TRANSCRIPT:
        return Outcome(FAILED, error_code=broken.code, error_message=broken.message)
    return outcome


def _ai_index(analysis: SpeechAnalysis) -> int:
    return 1 if analysis.ai_channel == "right" else 0


def transcribe(deps: WorkerDeps, analysis: SpeechAnalysis, paths: list[str],
               final_try: bool = False) -> tuple[list[dict] | None, str | None]:
    """(generated transcript, None) or (None, failure code). Each party's channel is transcribed
    on its own; a mono recording needs its parties from a timed transcript. Transient engine
    errors raise StageFailure (the task retries); on the final try they are returned as
    `transcription_unavailable`."""
    if deps.transcriber is None:
        return None, "transcription_disabled"
    try:
        if len(paths) >= 2:
            ai = _ai_index(analysis)
            speech = [list(analysis.speech.ai), list(analysis.speech.user)] if analysis.speech else None
            with telemetry.timed_request("transcription"):
                ai_words, user_words = deps.transcriber.transcribe_channels([paths[ai], paths[1 - ai]], speech)
            words = {"ai": ai_words, "user": user_words}
        elif analysis.speech is not None:
            with telemetry.timed_request("transcription"):
                mono = deps.transcriber.transcribe(paths[0])
            words = {"ai": [], "user": []}
            for word in mono:
                middle = (word.start + word.end) / 2
                words["ai" if any(s <= middle <= e for s, e in analysis.speech.ai) else "user"].append(word)
        else:
            return None, "mono_without_timed_transcript"
    except StageFailure as exc:
        if exc.transient and not final_try:
            raise  # the task retries the stage
        log.warning("transcription failed; analysing without it", extra={"error": exc.message, "code": exc.code})
        return None, exc.code
    return build_transcript(words), None
