"""Formatting for the dashboard's templates (Jinja filters) and what each metric shows:
its thresholds and its one-line reading (docs/dashboard.md#the-call-page)."""
from __future__ import annotations

from datetime import datetime

from app.catalogue import STANDARD_METRICS
from app.errors import FAILURE_CODES, SKIP_REASONS

METRIC_NAMES = {m.key: m.name for m in STANDARD_METRICS}
# which of the agent's thresholds (docs/metrics.md#thresholds) decide each metric
METRIC_THRESHOLDS = {
    "latency_ms": ("merge_gap_ms", "min_segment_ms"),
    "user_interruptions": ("interruption_min_overlap_ms", "backchannel_max_ms"),
    "ai_interruptions": ("interruption_min_overlap_ms", "backchannel_max_ms"),
    "silence_detection": ("silence_threshold_ms",),
    "stop_time_after_interruption": ("backchannel_max_ms",),
    "false_interruptions": ("backchannel_max_ms",),
    "interruption_non_adherence": ("non_adherence_ms",),
    "voice_change_detection": ("voice_change_min_ratio",),
}
# the docs/metrics.md section explaining each metric (shown as the metric's "what is this")
METRIC_DOCS = {
    "latency_ms": "How long the AI takes to answer: AI turn start minus the end of the caller's speech before it.",
    "user_interruptions": "The caller starts talking while the AI speaks (barge-in) or drops a short backchannel.",
    "ai_interruptions": "The AI starts talking while the caller speaks.",
    "silence_detection": "Stretches where nobody speaks, charged to the party expected to speak next.",
    "stop_time_after_interruption": "After a caller barge-in: how long the AI kept talking.",
    "talk_ratio": "AI talk time ÷ (AI + caller talk time).",
    "word_per_minute": "Speaking rate of the AI (and of the caller).",
    "time_to_first_word_ms": "Inbound calls: time from pick-up to the AI's first speech.",
    "false_interruptions": "The AI stopped for a caller sound that was not a real turn.",
    "interruption_non_adherence": "The caller barged in and the AI kept talking over them.",
    "transcription_accuracy": "Word error rate of the provided transcript against the one generated from the audio.",
    "voice_tone_clarity": "Perceived quality of the AI's voice (DNSMOS, 1–5).",
    "voice_change_detection": "Whether the AI's voice or the line changed during the call.",
}
# the headline field of each metric's result_data
_HEADLINE = {
    "latency_ms": ("average_ms", "avg {:,} ms"), "time_to_first_word_ms": ("ms", "{:,} ms"),
    "user_interruptions": ("count", "{}"), "ai_interruptions": ("count", "{}"),
    "stop_time_after_interruption": ("average_ms", "avg {:,} ms"), "talk_ratio": ("ratio", "{:.0%}"),
    "word_per_minute": ("wpm", "{:.0f} wpm"), "false_interruptions": ("count", "{}"),
    "interruption_non_adherence": ("count", "{}"), "transcription_accuracy": ("wer", "WER {:.1%}"),
    "voice_tone_clarity": ("score", "{:.2f} / 5"), "voice_change_detection": ("detected", "{}"),
}


def metric_value(key: str, data: dict | None) -> str:
    if not data:
        return "—"
    if key == "silence_detection":
        count = sum((data.get(c) or {}).get("count", 0) for c in ("ai_channel", "user_channel"))
        total = sum((data.get(c) or {}).get("total_ms", 0) for c in ("ai_channel", "user_channel"))
        return f"{count} ({total / 1000:.1f} s)"
    field, fmt = _HEADLINE.get(key, ("", ""))
    value = data.get(field)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return fmt.format(value)


def explain_code(code: str | None, message: str | None = None) -> str:
    if not code:
        return message or ""
    return message or SKIP_REASONS.get(code) or FAILURE_CODES.get(code, code)


def fmt_ms(value) -> str:
    return "—" if value is None else f"{float(value):,.0f} ms"


def fmt_clock(seconds) -> str:
    """0:07.3 / 1:02:03 style, for times inside a call."""
    if seconds is None:
        return "—"
    total = float(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{int(hours)}:{int(minutes):02d}:{secs:04.1f}" if hours >= 1 else f"{int(minutes)}:{secs:04.1f}"


def fmt_duration(seconds) -> str:
    if seconds is None:
        return "—"
    minutes, secs = divmod(round(float(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def fmt_when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def fmt_pct(value) -> str:
    return "—" if value is None else f"{float(value):.0%}"


def fmt_num(value, digits: int = 1) -> str:
    return "—" if value is None else f"{float(value):.{digits}f}"


def fmt_criteria(criteria: dict | None) -> str:
    if not criteria:
        return ""
    symbols = {"equals": "=", "gte": "≥", "gt": ">", "lte": "≤", "lt": "<", "in": "in", "between": "between"}
    (op, value), = criteria.items()
    shown = " – ".join(map(str, value)) if op == "between" else ", ".join(map(str, value)) if op == "in" else value
    return f"{symbols.get(op, op)} {shown}"


FILTERS = {"ms": fmt_ms, "clock": fmt_clock, "duration": fmt_duration, "when": fmt_when, "pct": fmt_pct,
           "num": fmt_num, "criteria": fmt_criteria, "metric_value": metric_value,
           "explain": explain_code}
