"""Platform events written from the platforms' documented shapes (current and older), signed
the way each platform signs them, and local stand-ins for what we call on their side."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from tests.support.http_server import LoopbackServer, Replies
from tests.support.transcripts import CALL

# ---- signing, as the platforms do it ----------------------------------------------------------


def sign_retell(secret: str, body: bytes, at: float | None = None) -> dict:
    stamp = str(int((at or time.time()) * 1000))
    digest = hmac.new(secret.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()
    return {"x-retell-signature": f"v={stamp},d={digest}"}


def sign_elevenlabs(secret: str, body: bytes, at: float | None = None) -> dict:
    stamp = str(int(at or time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"ElevenLabs-Signature": f"t={stamp},v0={digest}"}


def sign_vapi(secret: str, body: bytes, at: float | None = None) -> dict:
    stamp = str(int((at or time.time()) * 1000))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"x-signature": digest, "x-timestamp": stamp}


SIGNERS = {"retell": sign_retell, "elevenlabs": sign_elevenlabs, "vapi": sign_vapi}


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# ---- payloads ---------------------------------------------------------------------------------

_SPOKEN = [t for t in CALL if t["role"] in ("AI Assistant", "User")]
START_MS = 1_764_670_000_000  # 2025-12-02T10:06:40Z


def vapi_report(call_id: str, assistant_id: str = "asst-1", stereo: bool = True, older: bool = False) -> dict:
    """`end-of-call-report`: current (`artifact`, `call`) or the older flattened shape."""
    messages = [{"role": "system", "message": "You are a helpful agent.", "time": START_MS, "secondsFromStart": 0}]
    for turn in _SPOKEN:
        role = "bot" if turn["role"] == "AI Assistant" else "user"
        begin = START_MS + int(turn["start_time"] * 1000)
        messages.append({"role": role, "message": turn["content"], "time": begin,
                         "endTime": START_MS + int(turn["end_time"] * 1000), "secondsFromStart": turn["start_time"],
                         "duration": int((turn["end_time"] - turn["start_time"]) * 1000)})
    messages.insert(5, {"role": "tool_calls", "time": START_MS + 12_500, "secondsFromStart": 12.5,
                        "toolCalls": [{"id": "tc1", "type": "function",
                                       "function": {"name": "lookup", "arguments": "{\"ref\": \"ABC123\"}"}}]})
    messages.insert(6, {"role": "tool_call_result", "toolCallId": "tc1", "name": "lookup", "result": "{\"ok\":true}",
                        "time": START_MS + 13_000, "secondsFromStart": 13.0})
    recording = {"stereoUrl": f"https://storage.vapi.ai/{call_id}-stereo.wav",
                 "mono": {"combinedUrl": f"https://storage.vapi.ai/{call_id}-mono.wav"}}
    if not stereo:
        recording = {"mono": {"combinedUrl": recording["mono"]["combinedUrl"]}}
    performance = {"turnLatencies": [{"modelLatency": 420, "voiceLatency": 300, "transcriberLatency": 200,
                                      "endpointingLatency": 100, "turnLatency": 1020}] * 5, "turnLatencyAverage": 1020}
    analysis = {"summary": "Booking moved to Friday.", "successEvaluation": "true", "structuredData": {"moved": True}}
    if older:
        return {"message": {
            "type": "end-of-call-report", "endedReason": "customer-ended-call",
            "call": {"id": call_id, "type": "outboundPhoneCall", "assistantId": assistant_id},
            "customer": {"number": "+15550100"}, "summary": analysis["summary"],
            "transcript": "AI: Hello\nUser: Hi", "messages": messages, "durationSeconds": 33.2,
            "recordingUrl": recording["mono"]["combinedUrl"],
            **({"stereoRecordingUrl": recording["stereoUrl"]} if stereo else {})}}
    return {"message": {
        "type": "end-of-call-report", "endedReason": "customer-ended-call", "timestamp": START_MS + 34_000,
        "startedAt": "2025-12-02T10:06:40.000Z", "endedAt": "2025-12-02T10:07:13.000Z",
        "call": {"id": call_id, "type": "inboundPhoneCall", "status": "ended", "assistantId": assistant_id,
                 "customer": {"number": "+15550100"}, "metadata": {"crm": "42"}},
        "assistant": {"id": assistant_id, "name": "Booking bot"},
        "customer": {"number": "+15550100"}, "cost": 0.12, "analysis": analysis,
        "artifact": {"messages": messages, "transcript": "AI: Hello\nUser: Hi", "recording": recording,
                     "performanceMetrics": performance, "logUrl": "https://logs.vapi.ai/x"}}}


def _retell_transcript() -> list[dict]:
    items = []
    for turn in _SPOKEN:
        words = turn["content"].split()
        step = (turn["end_time"] - turn["start_time"]) / max(1, len(words))
        items.append({"role": "agent" if turn["role"] == "AI Assistant" else "user", "content": turn["content"],
                      "words": [{"word": w, "start": round(turn["start_time"] + i * step, 3),
                                 "end": round(turn["start_time"] + (i + 1) * step, 3)} for i, w in enumerate(words)]})
    return items


def retell_event(event: str, call_id: str, agent_id: str = "agent_r1", recording_url: str | None = None,
                 multi_channel: bool = True, older: bool = False) -> dict:
    """`call_ended` / `call_analyzed` (`call_analyzed` adds call_analysis); older: `data`, flat latencies."""
    transcript = _retell_transcript()
    with_tools = transcript[:5] + [
        {"role": "tool_call_invocation", "tool_call_id": "t1", "name": "lookup", "arguments": "{\"ref\":\"ABC123\"}"},
        {"role": "tool_call_result", "tool_call_id": "t1", "content": "{\"ok\":true}", "successful": True},
        {"role": "node_transition", "former_node_id": "a", "new_node_id": "b"},
    ] + transcript[5:]
    url = recording_url or f"https://dxc03zgurdly9.cloudfront.net/{call_id}/recording.wav"
    call = {"call_id": call_id, "call_type": "phone_call", "agent_id": agent_id, "agent_name": "Retell bot",
            "agent_version": 3, "call_status": "ended", "direction": "outbound", "from_number": "+15550111",
            "to_number": "+15550222", "start_timestamp": START_MS, "end_timestamp": START_MS + 33_000,
            "duration_ms": 33_000, "disconnection_reason": "user_hangup",
            "transcript": "Agent: Hello", "transcript_object": transcript,
            "transcript_with_tool_calls": with_tools, "recording_url": url, "metadata": {"crm": "7"},
            "public_log_url": "https://retell.example/log"}
    if multi_channel:
        call["recording_multi_channel_url"] = url
    if older:
        call["e2e_latency"] = {"p50": 900, "p90": 1300, "values": [800, 900, 1000, 1100, 1300]}
        call["llm_latency"] = {"p50": 400}
        del call["transcript_with_tool_calls"]
    else:
        call["latency"] = {"e2e": {"p50": 900, "p90": 1300, "values": [800, 900, 1000, 1100, 1300]},
                           "llm": {"p50": 400}}
    if event == "call_analyzed":
        call["call_analysis"] = {"call_summary": "Moved to Friday.", "call_successful": True,
                                 "user_sentiment": "Positive", "in_voicemail": False}
    return {"event": event, ("data" if older else "call"): call}


def elevenlabs_transcription(conversation_id: str, agent_id: str = "el_agent", has_audio: bool | None = True) -> dict:
    entries = []
    for turn in _SPOKEN:
        entries.append({"role": "agent" if turn["role"] == "AI Assistant" else "user", "message": turn["content"],
                        "time_in_call_secs": turn["start_time"], "tool_calls": [], "tool_results": [],
                        "interrupted": False,
                        "conversation_turn_metrics": ({"metrics": {"convai_llm_service_ttfb": {"elapsed_time": 0.41}}}
                                                      if turn["role"] == "AI Assistant" else None)})
    entries[4]["tool_calls"] = [{"request_id": "r1", "tool_name": "lookup", "params_as_json": "{\"ref\":\"ABC\"}"}]
    entries[4]["tool_results"] = [{"request_id": "r1", "tool_name": "lookup", "result_value": "ok", "is_error": False}]
    data = {"agent_id": agent_id, "conversation_id": conversation_id, "status": "done", "user_id": None,
            "transcript": entries,
            "metadata": {"start_time_unix_secs": START_MS // 1000, "call_duration_secs": 33,
                         "termination_reason": "Client disconnected", "cost": 312,
                         "phone_call": {"direction": "inbound", "external_number": "+15550333",
                                        "agent_number": "+15550444", "type": "twilio"}},
            "analysis": {"call_successful": "success", "transcript_summary": "Moved.",
                         "evaluation_criteria_results": {"greet": {"criteria_id": "greet", "result": "success",
                                                                   "rationale": "said hello"}}}}
    if has_audio is not None:
        data["has_audio"] = has_audio
    return {"type": "post_call_transcription", "event_timestamp": START_MS // 1000, "data": data}


def elevenlabs_audio(conversation_id: str, audio: bytes, agent_id: str = "el_agent") -> dict:
    return {"type": "post_call_audio", "event_timestamp": START_MS // 1000,
            "data": {"agent_id": agent_id, "conversation_id": conversation_id,
                     "full_audio": base64.b64encode(audio).decode()}}


# ---- stand-ins for the platforms' side ----------------------------------------------------------


class PlatformStandIn(LoopbackServer):
    """127.0.0.1 only. Vapi's API: GET /call/<id>/stereo-recording needs `Authorization: Bearer
    <api_key>` and answers 302 to /signed/<name>?sig=…, which serves the audio — and records any
    Authorization header it was (wrongly) sent. Retell's signed URLs: /retell/<name>?Expires=…"""

    def __init__(self, api_key: str):
        self.api_key = api_key
        self.audio: dict[str, bytes] = {}  # platform call id / file name → bytes
        self.log: list[tuple[str, str | None]] = []  # (path, Authorization header)
        stand_in = self

        class Handler(Replies):
            def do_GET(self):  # noqa: N802 (http.server names its handlers so)
                auth = self.headers.get("Authorization")
                stand_in.log.append((self.path, auth))
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[0] == "call" and len(parts) == 3 and parts[2] == "stereo-recording":
                    if auth != f"Bearer {stand_in.api_key}":
                        return self._send(401, b"unauthorized")
                    if parts[1] not in stand_in.audio:
                        return self._send(404, b"no such call")
                    self.send_response(302)
                    self.send_header("Location", f"/signed/{parts[1]}?sig=abc&expires=60")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if parts[0] in ("signed", "retell") and parts[1] in stand_in.audio:
                    return self._send(200, stand_in.audio[parts[1]], "audio/wav")
                return self._send(404, b"not found")

        self._serve(Handler)
