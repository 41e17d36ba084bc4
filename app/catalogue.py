"""The catalogue of standard metrics, as data: what GET /metrics/standard lists and which
pending result rows a new call gets. The worker's registry (workers/metrics/registry.py)
implements exactly these keys; a test keeps the two in step.

Turn-taking metrics come from the recording's speech activity when there is a voice recording
(`source: "audio"`), otherwise from the transcript's timings (`source: "transcript"`).
Transcription and voice metrics need the recording itself (`audio_only`): without one they
are skipped `no_recording`.
"""
from __future__ import annotations

from dataclasses import dataclass

# Thresholds an agent can set in `analysis_settings` (docs/metrics.md#thresholds), in milliseconds, with defaults.
DEFAULT_THRESHOLDS = {
    "merge_gap_ms": 300,
    "min_segment_ms": 100,
    "interruption_min_overlap_ms": 300,
    "backchannel_max_ms": 1000,
    "silence_threshold_ms": 2000,
    "non_adherence_ms": 2000,
    # voice_change_detection: the sensitivity of a change, relative to this default: it scales the
    # speaker-embedding similarity drops a change needs, or without embeddings it is the
    # speaker-feature score (t statistics, RMS ÷ √utterances) itself (docs/metrics.md#voice-change-detection)
    "voice_change_min_ratio": 0.7,
}


def thresholds_for(analysis_settings: dict | None) -> dict[str, float]:
    """An agent's thresholds: its own settings over the defaults."""
    return {**DEFAULT_THRESHOLDS, **{k: v for k, v in (analysis_settings or {}).items() if v is not None}}


@dataclass(frozen=True)
class StandardMetric:
    key: str
    name: str
    needs: str          # what the metric reads
    voice_only: bool    # skipped for `text` observations
    result_shape: dict
    audio_only: bool = False  # needs the recording itself (transcription, voice)


_EVENTS = {"count": "int", "interruptions": [{"at_second": "float", "duration_ms": "int", "type": "barge_in|backchannel"}],
           "threshold_ms": "int"}

STANDARD_METRICS: tuple[StandardMetric, ...] = (
    StandardMetric("latency_ms", "Response latency", "timed turns (transcript) or audio", False,
                   {"average_ms": "int", "p50_ms": "int", "p90_ms": "int", "p95_ms": "int", "p99_ms": "int",
                    "max_ms": "int", "turns": [{"turn": "int", "latency_ms": "int", "at_second": "float"}],
                    # calls from an integration whose platform reports its own latency
                    "reported": {"source": "str", "matched_by": "order|none", "reported_turns": "int",
                                 "measured_turns": "int",
                                 "turns": [{"turn": "int", "at_second": "float", "measured_ms": "int",
                                            "reported_ms": "int", "gap_ms": "int"}],
                                 "summary": {"reported_average_ms": "int", "measured_average_ms": "int",
                                             "average_gap_ms": "int", "median_gap_ms": "int", "max_gap_ms": "int",
                                             "min_gap_ms": "int", "turns_measured_slower": "int"}}}),
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
    StandardMetric("transcription_accuracy", "Transcription accuracy", "provided transcript and recording", True,
                   {"wer": "float", "substitutions": "int", "deletions": "int", "insertions": "int",
                    "reference_words": "int", "hypothesis_words": "int", "by_role": {"ai": "float|null", "user": "float|null"},
                    "reference": "generated", "normalisation": "str"}, audio_only=True),
    StandardMetric("voice_tone_clarity", "Voice tone and clarity", "recording (AI speech ≥ 3 s)", True,
                   {"score": "float 1–5", "method": "dnsmos_p808", "p808_mos": "float", "sig_mos": "float",
                    "bak_mos": "float", "ovrl_mos": "float", "windows": "int", "bandwidth_hz": "int",
                    "high_band_db": "float", "snr_db": "float", "clipping_ratio": "float",
                    "ai_speech_seconds": "float"}, audio_only=True),
    StandardMetric("voice_change_detection", "Voice change", "recording (≥ 6 AI utterances of ≥ 0.8 s)", True,
                   {"detected": "bool", "count": "int",
                    "changes": [{"at_second": "float", "score": "float", "utterance": "int", "kind": "voice"}],
                    "line_changes": [{"at_second": "float", "score": "float", "utterance": "int", "kind": "line",
                                      "line_change": "bandwidth|snr"}],
                    "method": "speaker_embedding|voice_features", "reasons": ["speaker_embedding_unavailable"],
                    "min_ratio": "float", "utterances": "int"}, audio_only=True),
)

STANDARD_KEYS = tuple(m.key for m in STANDARD_METRICS)

