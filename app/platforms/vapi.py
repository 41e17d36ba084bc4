"""Vapi `end-of-call-report` → a call (docs/integrations.md#vapi).

Accepts the current shape (`message.artifact`, `message.call`) and the older flattened one
(`message.transcript`, `message.recordingUrl`, `message.messages`, `durationSeconds` …).
"""
from __future__ import annotations

from app.platforms.mapped import (
    AI,
    TOOL_CALL,
    TOOL_RESULT,
    USER,
    PlatformEvent,
    UnusableEvent,
    bounded,
    duration,
    iso,
    items,
    number,
    obj,
    text,
    timed,
)

END_OF_CALL = "end-of-call-report"
_DIRECTIONS = {"inboundPhoneCall": "inbound", "outboundPhoneCall": "outbound", "webCall": "inbound"}


def _turn(message: dict) -> dict | None:
    """One artifact message as a transcript turn; system prompts are dropped. Tool messages are
    recognised by shape (their role strings vary between versions)."""
    role = message.get("role")
    start = number(message.get("secondsFromStart"))
    end = None
    time_ms, end_ms = number(message.get("time")), number(message.get("endTime"))
    if start is not None and time_ms is not None and end_ms is not None:
        end = start + (end_ms - time_ms) / 1000
    elif start is not None and number(message.get("duration")) is not None:
        end = start + (number(message.get("duration")) or 0) / 1000
    if role == "system":
        return None
    if message.get("toolCalls"):
        calls = [{"id": c.get("id"), "name": obj(c.get("function")).get("name"),
                  "arguments": obj(c.get("function")).get("arguments")} for c in items(message.get("toolCalls"))]
        first = calls[0] if calls else {}
        return timed(TOOL_CALL, text(message.get("message")), None, None,
                     {**first, "tool_calls": calls} if len(calls) > 1 else first)
    if message.get("toolCallId") or role in ("tool_call_result", "tool"):
        return timed(TOOL_RESULT, None, None, None,
                     {"id": message.get("toolCallId"), "name": message.get("name"), "result": message.get("result")})
    if role in ("bot", "assistant"):
        return timed(AI, text(message.get("message")), start, end)
    if role == "user":
        return timed(USER, text(message.get("message")), start, end)
    return None


def _recording(message: dict, artifact: dict, call_id: str) -> dict | None:
    """Stereo first. Vapi's storage is private now: the recording is fetched through its API
    (`/call/{id}/stereo-recording`, with the integration's API key) whenever a stereo recording
    is announced; a payload that only has a mono URL falls back to it, flagged."""
    recording = obj(artifact.get("recording"))
    stereo = (text(recording.get("stereoUrl")) or text(artifact.get("stereoRecordingUrl"))
              or text(message.get("stereoRecordingUrl")))
    mono = (text(obj(recording.get("mono")).get("combinedUrl")) or text(artifact.get("recordingUrl"))
            or text(message.get("recordingUrl")))
    if stereo:
        return {"kind": "vapi", "call_id": call_id, "url": stereo, "mono": False}
    if mono:
        return {"kind": "url", "url": mono, "mono": True}
    return None


def map_event(payload: dict) -> PlatformEvent:
    message = obj(payload.get("message")) or payload
    kind = text(message.get("type")) or "unknown"
    if kind != END_OF_CALL:
        return PlatformEvent("vapi", kind, None)
    call = obj(message.get("call"))
    artifact = obj(message.get("artifact"))
    call_id = text(call.get("id")) or text(message.get("callId"))
    if not call_id:
        raise UnusableEvent("message.call.id is missing.")
    messages = items(artifact.get("messages")) or items(message.get("messages"))
    transcript = [t for t in (_turn(m) for m in messages) if t]
    started, ended = iso(message.get("startedAt") or call.get("startedAt")), iso(message.get("endedAt") or call.get("endedAt"))
    seconds = number(message.get("durationSeconds"))
    if seconds is None and number(message.get("durationMs")) is not None:
        seconds = (number(message.get("durationMs")) or 0) / 1000
    customer = obj(message.get("customer")) or obj(call.get("customer"))
    analysis = obj(message.get("analysis"))
    if not analysis and message.get("summary"):
        analysis = {"summary": message.get("summary")}
    fields = {
        "call_direction": _DIRECTIONS.get(str(call.get("type")), "inbound"),
        "customer_number": text(customer.get("number")),
        "call_timestamp": started,
        "duration_seconds": duration(started, ended, seconds),
        "call_end_reason": text(message.get("endedReason")),
        "transcript": transcript or None,
    }
    assistant = obj(message.get("assistant"))
    return PlatformEvent(
        "vapi", kind, call_id,
        platform_agent_id=text(call.get("assistantId")) or text(assistant.get("id")),
        platform_agent_name=text(assistant.get("name")),
        call=fields,
        recording=_recording(message, artifact, call_id),
        platform_data=bounded({
            "analysis": analysis, "performance_metrics": artifact.get("performanceMetrics"),
            "cost": message.get("cost"), "ended_reason": message.get("endedReason"),
            "call_type": call.get("type"), "log_url": artifact.get("logUrl"),
            "structured_outputs": artifact.get("structuredOutputs"), "scorecards": artifact.get("scorecards"),
            "call_metadata": call.get("metadata"), "text_transcript": artifact.get("transcript") or message.get("transcript"),
        }),
    )
