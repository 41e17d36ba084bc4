"""The catalogue of standard metrics, as data: what GET /metrics/standard lists and which
pending result rows a new call gets. The worker's registry (workers/metrics/registry.py)
implements exactly these keys; a test keeps the two in step.

Turn-taking metrics come from the recording's speech activity when there is a voice recording
(`source: "audio"`), otherwise from the transcript's timings (`source: "transcript"`).
Metrics that need transcription or voice models join the catalogue when those engines land.
"""
from __future__ import annotations

from dataclasses import dataclass

# Thresholds an agent can set in `analysis_settings` (SPEC 4), in milliseconds, with defaults.
DEFAULT_THRESHOLDS = {
    "merge_gap_ms": 300,
    "min_segment_ms": 100,
    "interruption_min_overlap_ms": 300,
    "backchannel_max_ms": 1000,
    "silence_threshold_ms": 2000,
    "non_adherence_ms": 2000,
}


def thresholds_for(analysis_settings: dict | None) -> dict[str, int]:
    """An agent's thresholds: its own settings over the defaults."""
    return {**DEFAULT_THRESHOLDS, **{k: v for k, v in (analysis_settings or {}).items() if v is not None}}


@dataclass(frozen=True)
class StandardMetric:
    key: str
    name: str
    needs: str          # what the metric reads
    voice_only: bool    # skipped for `text` observations
    result_shape: dict


_EVENTS = {"count": "int", "interruptions": [{"at_second": "float", "duration_ms": "int", "type": "barge_in|backchannel"}],
           "threshold_ms": "int"}

STANDARD_METRICS: tuple[StandardMetric, ...] = (
    StandardMetric("latency_ms", "Response latency", "timed turns (transcript) or audio", False,
                   {"average_ms": "int", "p50_ms": "int", "p90_ms": "int", "p95_ms": "int", "p99_ms": "int",
                    "max_ms": "int", "turns": [{"turn": "int", "latency_ms": "int", "at_second": "float"}]}),
    StandardMetric("user_interruptions", "User interruptions", "timed turns or audio", True, _EVENTS),
    StandardMetric("ai_interruptions", "AI interruptions", "timed turns or audio", True, _EVENTS),
    StandardMetric("silence_detection", "Silence", "timed turns or audio", True,
                   {"ai_channel": {"count": "int", "total_ms": "int", "events": [{"at_second": "float", "duration_ms": "int"}]},
                    "user_channel": {"count": "int", "total_ms": "int", "events": [{"at_second": "float", "duration_ms": "int"}]},
                    "threshold_ms": "int"}),
    StandardMetric("stop_time_after_interruption", "Stop time after interruption", "timed turns or audio", True,
                   {"average_ms": "int|null", "events": [{"at_second": "float", "stop_time_ms": "int"}]}),
    StandardMetric("talk_ratio", "Talk ratio", "timed turns or audio", True,
                   {"ratio": "float", "ai_talk_ms": "int", "user_talk_ms": "int", "overlap_ms": "int"}),
    StandardMetric("word_per_minute", "Words per minute", "timed turns with text", True,
                   {"wpm": "float", "words": "int", "speaking_seconds": "float", "user_wpm": "float|null",
                    "user_words": "int", "user_speaking_seconds": "float"}),
    StandardMetric("time_to_first_word_ms", "Time to first word", "timed turns or audio; inbound calls", True,
                   {"ms": "int"}),
    StandardMetric("false_interruptions", "False interruptions", "timed turns or audio", True,
                   {"count": "int", "events": [{"at_second": "float", "stop_time_ms": "int"}]}),
    StandardMetric("interruption_non_adherence", "Interruption non-adherence", "timed turns or audio", True,
                   {"count": "int", "events": [{"at_second": "float", "overlap_ms": "int"}], "threshold_ms": "int"}),
)

STANDARD_KEYS = tuple(m.key for m in STANDARD_METRICS)

