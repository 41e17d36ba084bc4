"""What a metric function reads, and how it says it cannot run."""
from __future__ import annotations

from dataclasses import dataclass

from workers.metrics.timeline import AI, USER, Speech, count_words, make_speech

# The transcript roles that speak, and the party each is: the workers' one home for this map
# (the API's full list of roles is app/api/schemas.py ROLES; a contract test ties the two).
SPEAKERS = {"AI Assistant": AI, "User": USER}
ROLE_OF = {party: role for role, party in SPEAKERS.items()}


@dataclass(frozen=True)
class Skip:
    """The metric cannot be computed for this call; `reason` is a stable snake_case code."""

    reason: str


@dataclass(frozen=True)
class MetricInput:
    speech: Speech | None                 # None: no timed speech for this call
    words: dict[str, int] | None          # words per party; None without a transcript
    call_direction: str
    # the agent's settings over the defaults: durations in ms, and voice_change_min_ratio (a ratio)
    thresholds: dict[str, float]
    source: str = "transcript"
    voice: dict | None = None             # AI voice measurements (workers/audio/voice.py); audio only
    provided: list[dict] | None = None    # the transcript the caller sent
    generated: list[dict] | None = None   # the transcript made from the recording


def from_transcript(transcript: list[dict] | None, call_direction: str, thresholds: dict[str, float]
                    ) -> MetricInput:
    """Speech from the spoken turns' start/end times (tool turns ignored). Timing metrics need
    every spoken turn timed: a partly timed transcript would invent silences, so it gives None."""
    spoken = [t for t in transcript or () if t.get("role") in SPEAKERS]
    words = None
    if transcript:
        words = {AI: 0, USER: 0}
        for turn in spoken:
            words[SPEAKERS[turn["role"]]] += count_words(turn.get("content"))
    timed = bool(spoken) and all(t.get("start_time") is not None and t.get("end_time") is not None for t in spoken)
    speech = None
    if timed:
        segments: dict[str, list[tuple[float, float]]] = {AI: [], USER: []}
        for turn in spoken:
            segments[SPEAKERS[turn["role"]]].append((turn["start_time"], turn["end_time"]))
        speech = make_speech(segments[AI], segments[USER])
    return MetricInput(speech=speech, words=words, call_direction=call_direction,
                       thresholds=thresholds, source="transcript")
