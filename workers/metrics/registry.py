"""The registry of standard metrics: key → pure function. Adding a metric is a function, a line
here, a catalogue entry (app/catalogue.py) and a test. One metric raising never stops another."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from workers.metrics import turn_taking, voice, wer
from workers.metrics.inputs import MetricInput, Skip

log = logging.getLogger(__name__)

MetricFunction = Callable[[MetricInput], "dict | Skip"]

REGISTRY: dict[str, MetricFunction] = {
    "latency_ms": turn_taking.latency_ms,
    "user_interruptions": turn_taking.user_interruptions,
    "ai_interruptions": turn_taking.ai_interruptions,
    "silence_detection": turn_taking.silence_detection,
    "stop_time_after_interruption": turn_taking.stop_time_after_interruption,
    "talk_ratio": turn_taking.talk_ratio,
    "word_per_minute": turn_taking.word_per_minute,
    "time_to_first_word_ms": turn_taking.time_to_first_word_ms,
    "false_interruptions": turn_taking.false_interruptions,
    "interruption_non_adherence": turn_taking.interruption_non_adherence,
    "transcription_accuracy": wer.transcription_accuracy,
    "voice_tone_clarity": voice.voice_tone_clarity,
    "voice_change_detection": voice.voice_change_detection,
}


@dataclass(frozen=True)
class Outcome:
    status: str                      # computed | skipped | failed
    result_data: dict | None = None
    error_code: str | None = None
    error_message: str | None = None


def compute(key: str, data: MetricInput) -> Outcome:
    """Run one metric; an exception becomes a `failed` outcome with code `metric_error`."""
    try:
        value = REGISTRY[key](data)
    except Exception as exc:  # a metric bug must not take the other metrics down
        log.exception("metric failed", extra={"metric": key})
        return Outcome("failed", error_code="metric_error", error_message=f"{type(exc).__name__}: {exc}"[:500])
    if isinstance(value, Skip):
        return Outcome("skipped", error_code=value.reason)
    return Outcome("computed", result_data=value)
