"""calls.audio_metrics: speech activity from the stored recording, then the audio branch's
metrics from it (`source: "audio"`), with the segments and channel decision stored on the call."""
from __future__ import annotations

import logging
import os
import tempfile

from app.catalogue import thresholds_for
from app.db import pipeline as pipeline_db
from app.db import results as results_db
from app.db.pool import transaction
from workers.audio.activity import VadParams
from workers.audio.analysis import analyse_recording
from workers.audio.decode import DecodeError
from workers.context import WorkerDeps
from workers.metrics.inputs import MetricInput, from_transcript
from workers.metrics.registry import Outcome, compute
from workers.pipeline import AUDIO_METRICS
from workers.stages.common import TransientStageError, begin_stage, complete_branch, end_stage
from workers.stages.recording import fail_audio_branch

log = logging.getLogger(__name__)


def compute_audio_metrics(deps: WorkerDeps, call_id: int) -> None:
    call = begin_stage(deps, call_id, AUDIO_METRICS)
    if call is None or call["audio_branch"] != "fetched":
        return  # not fetched (the chain's fetch failed and ended the branch) or already done
    thresholds = thresholds_for(call["analysis_settings"])
    params = VadParams(merge_gap_ms=thresholds["merge_gap_ms"], min_segment_ms=thresholds["min_segment_ms"])
    with tempfile.TemporaryDirectory(prefix="callscope-audio-") as workdir:
        path = os.path.join(workdir, "recording")
        try:
            deps.storage.get_file(call["recording_key"], path)
        except Exception as exc:  # the store may be back on the next try
            raise TransientStageError("storage_unavailable", f"Reading the recording failed: {type(exc).__name__}") from exc
        try:
            analysis = analyse_recording(path, call["ai_channel"], call["transcript"], params)
        except DecodeError as exc:
            fail_audio_branch(deps, call_id, "undecodable_audio", str(exc))
            return
    with transaction(deps.pool) as conn:
        pipeline_db.set_speech(conn, call_id, analysis.as_dict())
        keys = results_db.pending_keys_of_branch(conn, call_id, "audio")
    if analysis.speech is None:
        outcomes = {key: Outcome("skipped", error_code=analysis.skip_reason) for key in keys}
    else:
        words = from_transcript(call["transcript"], call["call_direction"], thresholds).words
        data = MetricInput(speech=analysis.speech, words=words, call_direction=call["call_direction"],
                           thresholds=thresholds, source="audio")
        outcomes = {key: compute(key, data) for key in keys}
    complete_branch(deps, call_id, "audio_branch", "done", outcomes, source="audio")
    end_stage(deps, call_id, AUDIO_METRICS)
