"""calls.fetch_recording: download (SSRF-guarded, bounded), probe, store under a deterministic key."""
from __future__ import annotations

import os
import tempfile

from app.catalogue import thresholds_for
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pipeline import CallRow
from app.db.pool import transaction
from app.status import AUDIO_BRANCH, FAILED, FETCHED, NOT_APPLICABLE, PENDING
from app.storage import recording_key, recording_prefix
from workers.audio.probe import CONTENT_TYPES, UndecodableAudio, probe
from workers.context import WorkerDeps
from workers.failure import StageFailure
from workers.metrics.inputs import from_transcript
from workers.metrics.registry import Outcome, compute
from workers.pipeline import AUDIO_ONLY, BRANCH_ENDED, FETCH_RECORDING, RECORDING_STORED, Report, judges_wait_for_audio, stage
from workers.stages.common import end_branch, end_unjudged_llm_branch, write_outcomes
from workers.stages.sources import obtain_recording


def fail_audio_branch(deps: WorkerDeps, call: CallRow, failure: StageFailure) -> Report:
    """The recording cannot be analysed: the call will end `failed` with the failure's code. The
    audio branch's metrics fall back to the transcript's timings when there are any (`source:
    "transcript"`), else fail with the code; the transcript branch is not stopped; LLM judges
    waiting for a generated transcript fail with the code."""
    call_id = call["id"]
    with transaction(deps.pool) as conn:
        keys = results_db.pending_keys_of_branch(conn, call_id, "audio")
        fresh = pipeline_db.load_call(conn, call_id)
    call = fresh or call  # re-read: the LLM branch may have moved since the stage began
    fallback = from_transcript(call["transcript"], call["call_direction"], thresholds_for(call["analysis_settings"]))
    outcomes = {key: (compute(key, fallback) if fallback.speech is not None and key not in AUDIO_ONLY
                      else Outcome(FAILED, error_code=failure.code, error_message=failure.message)) for key in keys}
    if call["transcription_status"] == PENDING:
        with transaction(deps.pool) as conn:
            status = FAILED if deps.transcriber is not None else NOT_APPLICABLE
            pipeline_db.set_transcription(conn, call_id, status, None, failure.code)
    with transaction(deps.pool) as conn:
        write_outcomes(conn, call_id, outcomes, "transcript")
        join_ready = end_branch(conn, call_id, AUDIO_BRANCH, FAILED, failure)
        if judges_wait_for_audio(call):
            join_ready = end_unjudged_llm_branch(conn, call_id, failure) or join_ready
    return Report(BRANCH_ENDED, join_ready)


@stage(FETCH_RECORDING, exhausted=fail_audio_branch)
def fetch_recording(deps: WorkerDeps, call: CallRow) -> Report | None:
    """Raises StageFailure: transient ones (network, 5xx, the store) are retried, the others
    and the last retry's end the audio branch (fail_audio_branch)."""
    if call[AUDIO_BRANCH] != PENDING:
        return None
    call_id = call["id"]
    with tempfile.TemporaryDirectory(prefix="callscope-fetch-") as workdir:
        path = os.path.join(workdir, "recording")
        obtain_recording(deps, call, path)
        try:
            info = probe(path)
        except UndecodableAudio as exc:  # the audio room's own exception, mapped here
            raise StageFailure("undecodable_audio", str(exc)) from exc
        if info.duration_seconds > deps.settings.max_recording_seconds:
            raise StageFailure("recording_too_long", f"The recording lasts {info.duration_seconds:.0f} s.")
        key = recording_key(call["workspace_id"], call_id, info.format)
        # Same key on every re-run: a redelivery overwrites the object instead of adding one.
        try:
            deps.storage.put_file(key, path, CONTENT_TYPES[info.format])
        except Exception as exc:  # boto3/OS errors: the store may be back on the next try
            raise StageFailure("storage_unavailable", f"Storing the recording failed: {type(exc).__name__}",
                               transient=True) from exc
    with transaction(deps.pool) as conn:
        stored = pipeline_db.set_recording(conn, call_id, key, info.as_dict())
        end_branch(conn, call_id, AUDIO_BRANCH, FETCHED)
    if not stored:
        # Erased while we downloaded: the erasure may have cleaned the store before our upload,
        # so this check, made after it, removes what we put (docs/operations.md#erasure-and-retention).
        deps.storage.delete_prefix(recording_prefix(call["workspace_id"], call_id))
        return None
    return Report(RECORDING_STORED)
