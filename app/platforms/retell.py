"""Retell `call_ended` / `call_analyzed` → a call (docs/integrations.md#retell).

Body `{"event": …, "call": {…}}`; older integrations send the call as `data`. `call_analyzed`
is the whole call again plus `call_analysis`: the same call, more to keep.
"""
from __future__ import annotations

import json

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
)
from app.platforms.mapped import timed as _timed

CALL_EVENTS = ("call_ended", "call_analyzed")
_ROLES = {"agent": AI, "user": USER}


def _json_or_text(value):
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _turn(item: dict) -> dict | None:
    """Speech turns take their times from their first and last word (seconds into the audio);
    tool invocations and results become function turns; the rest (node transitions, DTMF) is dropped."""
    role = item.get("role")
    if role in _ROLES:
        words = items(item.get("words"))
        start = number(words[0].get("start")) if words else None
        end = number(words[-1].get("end")) if words else None
        return _timed(_ROLES[role], text(item.get("content")), start, end)
    if role == "tool_call_invocation":
        return _timed(TOOL_CALL, None, None, None, {"id": item.get("tool_call_id"), "name": item.get("name"),
                                                     "arguments": item.get("arguments")})
    if role == "tool_call_result":
        return _timed(TOOL_RESULT, None, None, None, {"id": item.get("tool_call_id"),
                                                       "result": _json_or_text(item.get("content")),
                                                       "successful": item.get("successful")})
    return None


def _recording(call: dict) -> dict | None:
    """The multi-channel file (one party per channel) first; the mixed one is the flagged
    fallback. Signed URLs expire (24 h when the account opts in): the worker fetches at once."""
    multi = text(call.get("recording_multi_channel_url"))
    if multi:
        return {"kind": "url", "url": multi, "mono": False}
    mixed = text(call.get("recording_url"))
    return {"kind": "url", "url": mixed, "mono": True} if mixed else None


def _latency(call: dict) -> dict | None:
    """Retell's latency block, or the older flat `e2e_latency` / `llm_latency` objects."""
    if isinstance(call.get("latency"), dict):
        return call["latency"]
    older = {k.removesuffix("_latency"): call[k] for k in ("e2e_latency", "llm_latency") if isinstance(call.get(k), dict)}
    return older or None


def map_event(payload: dict) -> PlatformEvent:
    kind = text(payload.get("event")) or "unknown"
    if kind not in CALL_EVENTS:
        return PlatformEvent("retell", kind, None)
    call = obj(payload.get("call")) or obj(payload.get("data"))
    call_id = text(call.get("call_id"))
    if not call_id:
        raise UnusableEvent("call.call_id is missing.")
    source = items(call.get("transcript_with_tool_calls")) or items(call.get("transcript_object"))
    transcript = [t for t in (_turn(i) for i in source) if t]
    started, ended = epoch_ms(call.get("start_timestamp")), epoch_ms(call.get("end_timestamp"))
    millis = number(call.get("duration_ms"))
    direction = call.get("direction") if call.get("direction") in ("inbound", "outbound") else "inbound"
    customer = call.get("to_number") if direction == "outbound" else call.get("from_number")
    return PlatformEvent(
        "retell", kind, call_id,
        platform_agent_id=text(call.get("agent_id")),
        platform_agent_name=text(call.get("agent_name")),
        call={
            "call_direction": direction,
            "customer_number": text(customer),
            "call_timestamp": started,
            "duration_seconds": duration(started, ended, millis / 1000 if millis is not None else None),
            "call_end_reason": text(call.get("disconnection_reason")),
            "transcript": transcript or None,
        },
        recording=_recording(call),
        platform_data=bounded({
            "analysis": call.get("call_analysis") or call.get("conversation_eval"),
            "latency": _latency(call), "call_type": call.get("call_type"),
            "agent_version": call.get("agent_version"), "call_status": call.get("call_status"),
            "disconnection_reason": call.get("disconnection_reason"), "call_cost": call.get("call_cost"),
            "public_log_url": call.get("public_log_url"), "call_metadata": call.get("metadata"),
            "collected_dynamic_variables": call.get("collected_dynamic_variables"),
        }),
    )
