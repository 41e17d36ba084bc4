"""calls.audio_metrics: the audio branch's metrics. The waveform metrics (voice activity,
turn-taking from audio, voice quality) plug in here with the audio engine; until then the
branch ends once the recording is stored and probed."""
from __future__ import annotations

from workers.context import WorkerDeps
from workers.pipeline import AUDIO_METRICS
from workers.stages.common import begin_stage, complete_branch, end_stage


def compute_audio_metrics(deps: WorkerDeps, call_id: int) -> None:
    call = begin_stage(deps, call_id, AUDIO_METRICS)
    if call is None or call["audio_branch"] != "fetched":
        return  # not fetched (the chain's fetch failed and ended the branch) or already done
    complete_branch(deps, call_id, "audio_branch", ("fetched",), "done", {}, source="audio")
    end_stage(deps, call_id, AUDIO_METRICS)
