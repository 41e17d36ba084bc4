"""calls.fetch_recording: download (SSRF-guarded, bounded), probe, store under a deterministic key."""
from __future__ import annotations

import logging
import os
import tempfile

from app.catalogue import thresholds_for
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pool import transaction
from app.storage import recording_key
from workers.audio.probe import CONTENT_TYPES, UndecodableAudio, probe
from workers.context import WorkerDeps
from workers.fetch import FetchFailed
from workers.metrics.inputs import from_transcript
from workers.metrics.registry import Outcome, compute
from workers.pipeline import AUDIO_ONLY, FETCH_RECORDING
from workers.stages.common import TransientStageError, begin_stage, complete_branch, end_stage

log = logging.getLogger(__name__)


def fetch_recording(deps: WorkerDeps, call_id: int) -> None:
    """Raises TransientStageError for failures worth a retry; permanent ones fail the branch."""
    call = begin_stage(deps, call_id, FETCH_RECORDING)
    if call is None or call["audio_branch"] != "pending":
        return
    with tempfile.TemporaryDirectory(prefix="callscope-fetch-") as workdir:
        path = os.path.join(workdir, "recording")
        try:
            deps.downloader.download(call["source_recording_url"], path)
            info = probe(path)
            if info.duration_seconds > deps.settings.max_recording_seconds:
                raise FetchFailed("recording_too_long",
                                  f"The recording lasts {info.duration_seconds:.0f} s.", permanent=True)
        except FetchFailed as exc:
            if not exc.permanent:
                raise TransientStageError(exc.code, exc.message) from exc
            fail_audio_branch(deps, call_id, exc.code, exc.message)
            return
        except UndecodableAudio as exc:
            fail_audio_branch(deps, call_id, "undecodable_audio", str(exc))
            return
        key = recording_key(call["workspace_id"], call_id, info.format)
        # Same key on every re-run: a redelivery overwrites the object instead of adding one.
        try:
            deps.storage.put_file(key, path, CONTENT_TYPES[info.format])
        except Exception as exc:  # boto3/OS errors: the store may be back on the next try
            raise TransientStageError("storage_unavailable", f"Storing the recording failed: {type(exc).__name__}") from exc
    with transaction(deps.pool) as conn:
        pipeline_db.set_recording(conn, call_id, key, info.as_dict())
    complete_branch(deps, call_id, "audio_branch", "fetched")
    end_stage(deps, call_id, FETCH_RECORDING)


def fail_audio_branch(deps: WorkerDeps, call_id: int, code: str, message: str) -> None:
    """The recording cannot be analysed: the call will end `failed` with this code. The audio
    branch's metrics fall back to the transcript's timings when there are any (`source:
    "transcript"`), else fail with the code; the transcript branch is not stopped."""
    log.info("recording failed", extra={"call_id": call_id, "code": code, "reason": message})
    with transaction(deps.pool) as conn:
        keys = results_db.pending_keys_of_branch(conn, call_id, "audio")
        call = pipeline_db.load_call(conn, call_id)
    fallback = from_transcript(call["transcript"], call["call_direction"], thresholds_for(call["analysis_settings"]))
    outcomes = {key: (compute(key, fallback) if fallback.speech is not None and key not in AUDIO_ONLY
                      else Outcome("failed", error_code=code, error_message=message)) for key in keys}
    if call["transcription_status"] == "pending":
        with transaction(deps.pool) as conn:
            pipeline_db.set_transcription(conn, call_id, "failed", None, code)
    complete_branch(deps, call_id, "audio_branch", "failed", outcomes, source="transcript", failure=(code, message),
                    end_llm_branch=call["llm_branch"] == "pending" and not call["transcript"],
                    llm_failure=(code, message))
