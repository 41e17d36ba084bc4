"""What a platform event becomes: the call fields we store, where its recording comes from,
and what the platform reported about itself (kept as metadata)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

AI, USER, TOOL_CALL, TOOL_RESULT = "AI Assistant", "User", "Function Call", "Function Call Result"

# The platform's own data kept on the call (metadata.platform) is bounded: the API's metadata
# limit is 64 KiB, and whatever does not fit is dropped key by key, largest first.
MAX_PLATFORM_METADATA = 48 * 1024


class UnusableEvent(ValueError):
    """The event is signed correctly but cannot be mapped to a call (a required field is missing)."""


@dataclass
class PlatformEvent:
    """One platform event, mapped. `call` is None for an event that carries no call to store
    (e.g. ElevenLabs' audio alone); `audio` holds bytes sent in the event itself."""

    platform: str
    event_type: str
    call_id: str | None
    platform_agent_id: str | None = None
    platform_agent_name: str | None = None
    call: dict[str, Any] | None = None
    recording: dict[str, Any] | None = None
    platform_data: dict[str, Any] = field(default_factory=dict)
    audio: bytes | None = None


def epoch_ms(value) -> datetime | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None


def iso(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def text(value) -> str | None:
    return value if isinstance(value, str) and value else None


def obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def items(value) -> list:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def timed(role: str, content: str | None, start: float | None, end: float | None, data: dict | None = None) -> dict:
    """A transcript turn; times are kept only when both are known and ordered (a platform's
    rounding can put an end a few ms before its start: then the end is clamped to the start)."""
    turn: dict[str, Any] = {"role": role, "content": content or ""}
    if start is not None and end is not None and start >= 0:
        turn["start_time"], turn["end_time"] = round(start, 3), round(max(start, end), 3)
    if data:
        turn["data"] = data
    return turn


def bounded(data: dict[str, Any]) -> dict[str, Any]:
    """`data` without its largest keys until it fits MAX_PLATFORM_METADATA (dropped keys are listed)."""
    kept = {k: v for k, v in data.items() if v not in (None, {}, [])}
    dropped = []
    while len(json.dumps(kept, default=str)) > MAX_PLATFORM_METADATA and kept:
        largest = max(kept, key=lambda k: len(json.dumps(kept[k], default=str)))
        dropped.append(largest)
        del kept[largest]
    if dropped:
        kept["dropped_for_size"] = dropped
    return kept


def duration(start: datetime | None, end: datetime | None, fallback: float | None = None) -> int | None:
    if start and end and end >= start:
        return round((end - start).total_seconds())
    return round(fallback) if fallback is not None and fallback >= 0 else None
