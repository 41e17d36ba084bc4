"""ElevenLabs post-call webhooks → a call (docs/integrations.md#elevenlabs).

`post_call_transcription` carries the conversation; `post_call_audio` the whole call's audio
as base64 MP3 (mono: both parties mixed, so audio turn metrics lean on the transcript's times).
Either may come first: the audio is stored under a key derived from the conversation id, and
the call reads it from there whenever it is analysed.
"""
from __future__ import annotations

import base64
import binascii

from app.platforms.mapped import (
    AI,
    TOOL_CALL,
    TOOL_RESULT,
    USER,
    PlatformEvent,
    UnusableEvent,
    bounded,
    duration,
    epoch_ms,
    items,
    number,
    obj,
    text,
    timed,
)

TRANSCRIPTION, AUDIO = "post_call_transcription", "post_call_audio"
_ROLES = {"agent": AI, "user": USER}


def _turns(entries: list[dict], call_seconds: float | None) -> list[dict]:
    """ElevenLabs gives each turn its start (`time_in_call_secs`) only: a turn ends where the
    next one starts (or at the call's end), an upper bound of the speech that the audio metrics
    narrow. Tool calls and results of a turn follow it."""
    turns: list[dict] = []
    starts = [number(e.get("time_in_call_secs")) for e in entries]
    for i, entry in enumerate(entries):
        start = starts[i]
        later = [s for s in starts[i + 1:] if s is not None]
        end = later[0] if later else call_seconds
        if entry.get("role") in _ROLES and text(entry.get("message")):
            turns.append(timed(_ROLES[entry["role"]], entry["message"], start, end))
        for call in items(entry.get("tool_calls")):
            turns.append(timed(TOOL_CALL, None, None, None, {"id": call.get("request_id"), "name": call.get("tool_name"),
                                                             "arguments": call.get("params_as_json")}))
        for result in items(entry.get("tool_results")):
            turns.append(timed(TOOL_RESULT, None, None, None, {"id": result.get("request_id"),
                                                               "name": result.get("tool_name"),
                                                               "result": result.get("result_value"),
                                                               "is_error": result.get("is_error")}))
    return turns


def _turn_metrics(entries: list[dict]) -> list[dict]:
    return [{"index": i, "role": e.get("role"), "time_in_call_secs": e.get("time_in_call_secs"),
             "metrics": obj(e.get("conversation_turn_metrics")).get("metrics")}
            for i, e in enumerate(entries) if e.get("conversation_turn_metrics")]


def map_event(payload: dict) -> PlatformEvent:
    kind = text(payload.get("type")) or "unknown"
    data = obj(payload.get("data"))
    conversation_id = text(data.get("conversation_id"))
    if kind not in (TRANSCRIPTION, AUDIO):
        return PlatformEvent("elevenlabs", kind, None)
    if not conversation_id:
        raise UnusableEvent("data.conversation_id is missing.")
    if kind == AUDIO:
        try:
            audio = base64.b64decode(data.get("full_audio") or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise UnusableEvent("data.full_audio is not base64.") from None
        if not audio:
            raise UnusableEvent("data.full_audio is empty.")
        return PlatformEvent("elevenlabs", kind, conversation_id, platform_agent_id=text(data.get("agent_id")),
                             audio=audio)
    metadata = obj(data.get("metadata"))
    phone = obj(metadata.get("phone_call"))
    seconds = number(metadata.get("call_duration_secs"))
    started = number(metadata.get("start_time_unix_secs"))
    start_at = epoch_ms(started * 1000) if started else None
    entries = items(data.get("transcript"))
    direction = phone.get("direction") if phone.get("direction") in ("inbound", "outbound") else "inbound"
    has_audio = data.get("has_audio") is not False  # older payloads lack the flag; audio may follow
    return PlatformEvent(
        "elevenlabs", kind, conversation_id,
        platform_agent_id=text(data.get("agent_id")),
        call={
            "call_direction": direction,
            "customer_number": text(phone.get("external_number")),
            "call_timestamp": start_at,
            "duration_seconds": duration(None, None, seconds),
            "call_end_reason": text(metadata.get("termination_reason")),
            "transcript": _turns(entries, seconds) or None,
        },
        recording={"kind": "stored", "mono": True} if has_audio else None,
        platform_data=bounded({
            "analysis": data.get("analysis"), "turn_metrics": _turn_metrics(entries), "status": data.get("status"),
            "termination_reason": metadata.get("termination_reason"), "cost": metadata.get("cost"),
            "main_language": metadata.get("main_language"), "error": metadata.get("error"),
        }),
    )
