"""A call as a timeline: who spoke when, and where the metrics found something — pure data
built from the call view the API returns (docs/dashboard.md#the-call-page).

Times are seconds from the start of the recording (or of the transcript's clock). The
template draws this at `pixels_per_second`; the page's script redraws it when zooming.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

LANES = ("ai", "user")
FIT_WIDTH_PX = 1000        # the whole call fits this width before the browser measures the real one
MIN_LABEL_PX = 46          # a silence needs this many pixels (× 1.6) before its label is drawn
TOOL_TEXT_CHARS = 200      # a tool call's arguments or result, shortened to this in the transcript


@dataclass(frozen=True)
class Mark:
    """One thing on the timeline. `kind`: latency | interruption | silence | stop_time.
    `lane`: ai | user | both. `seek`: where clicking it moves the audio."""

    kind: str
    lane: str
    start: float
    end: float
    label: str
    title: str
    variant: str = ""

    @property
    def seek(self) -> float:
        return self.start


@dataclass(frozen=True)
class Turn:
    role: str
    party: str | None        # ai | user | None (tool turns)
    start: float | None
    end: float | None
    text: str


@dataclass
class Timeline:
    duration: float
    segments: dict[str, list[tuple[float, float]]]
    marks: list[Mark]
    source: str              # audio | transcript | none
    turns: dict[str, list[Turn]] = field(default_factory=dict)   # provided / generated

    @property
    def pixels_per_second(self) -> float:
        return FIT_WIDTH_PX / self.duration if self.duration > 0 else 1.0

    def count(self, kind: str) -> int:
        return sum(1 for m in self.marks if m.kind == kind)


_PARTY = {"AI Assistant": "ai", "User": "user"}


def _text(turn: dict) -> str:
    """What a turn said; for a tool turn without words, its call or result in short."""
    if turn.get("content"):
        return str(turn["content"])
    data = turn.get("data")
    if not isinstance(data, dict):
        return ""
    data = {k: v for k, v in data.items() if k != "id"}
    if not data:
        return ""
    shown = json.dumps(data, ensure_ascii=False, default=str)
    return shown if len(shown) <= TOOL_TEXT_CHARS else shown[:TOOL_TEXT_CHARS] + "…"


def _turns(transcript: list[dict] | None) -> list[Turn]:
    turns = []
    for t in transcript or ():
        start, end = t.get("start_time"), t.get("end_time")
        turns.append(Turn(str(t.get("role", "")), _PARTY.get(t.get("role", "")),
                          float(start) if start is not None else None, float(end) if end is not None else None,
                          _text(t)))
    return turns


def _segments(call: dict) -> tuple[dict[str, list[tuple[float, float]]], str]:
    """The speech segments per party: the audio's when measured, else the timed transcript's."""
    speech = call.get("speech") or {}
    if speech.get("segments"):
        return {lane: [(float(s), float(e)) for s, e in speech["segments"][lane]] for lane in LANES}, "audio"
    timed = [t for t in _turns(call.get("transcript")) if t.party and t.start is not None and t.end is not None]
    if timed:
        return {lane: [(t.start, t.end) for t in timed if t.party == lane] for lane in LANES}, "transcript"  # type: ignore[misc]
    return {lane: [] for lane in LANES}, "none"


def _results(call: dict) -> dict[str, dict]:
    return {r["metric_key"]: r["result_data"] or {} for r in call.get("results") or () if r["status"] == "computed"}


def _interruptions(data: dict, lane: str) -> list[Mark]:
    who = "Caller" if lane == "user" else "AI"
    marks = []
    for e in data.get("interruptions") or ():
        kind = "barge-in" if e.get("type") == "barge_in" else "backchannel"
        start, overlap = float(e["at_second"]), int(e.get("duration_ms") or 0)
        marks.append(Mark("interruption", lane, start, start + overlap / 1000, kind,
                          f"{who} {kind} at {start:.2f} s, both spoke {overlap} ms", e.get("type") or ""))
    return marks


def _marks(results: dict[str, dict]) -> list[Mark]:
    marks = []
    for turn in results.get("latency_ms", {}).get("turns") or ():
        answer, ms = float(turn["at_second"]), int(turn["latency_ms"])
        marks.append(Mark("latency", "ai", answer - ms / 1000, answer, f"{ms} ms",
                          f"Turn {turn.get('turn')}: the AI answered after {ms} ms"))
    marks += _interruptions(results.get("user_interruptions", {}), "user")
    marks += _interruptions(results.get("ai_interruptions", {}), "ai")
    silence = results.get("silence_detection", {})
    for channel, party in (("ai_channel", "the AI"), ("user_channel", "the caller")):
        for e in (silence.get(channel) or {}).get("events") or ():
            start, ms = float(e["at_second"]), int(e["duration_ms"])
            marks.append(Mark("silence", "both", start, start + ms / 1000, f"{ms / 1000:.1f} s silence",
                              f"Silence of {ms} ms at {start:.2f} s, waiting for {party}", channel))
    for e in results.get("stop_time_after_interruption", {}).get("events") or ():
        start, ms = float(e["at_second"]), int(e["stop_time_ms"])
        marks.append(Mark("stop_time", "ai", start, start + ms / 1000, f"stop {ms} ms",
                          f"The caller barged in at {start:.2f} s; the AI stopped {ms} ms later"))
    return sorted(marks, key=lambda m: (m.start, m.kind))


def build_timeline(call: dict) -> Timeline:
    """The timeline of a call view (app/service/calls.py#get_call's shape)."""
    segments, source = _segments(call)
    marks = _marks(_results(call))
    turns = {"provided": _turns(call.get("transcript")) if call.get("transcript_source") == "provided" else [],
             "generated": _turns(call.get("generated_transcript") if call.get("transcript_source") == "provided"
                                 else call.get("transcript"))}
    ends = [e for lane in segments.values() for _, e in lane] + [m.end for m in marks]
    ends += [t.end for ts in turns.values() for t in ts if t.end is not None]
    info = call.get("recording_info") or call.get("recording") or {}
    speech = call.get("speech") or {}
    duration = max([float(info.get("duration_seconds") or 0), float(speech.get("duration_seconds") or 0), *ends, 0.0])
    return Timeline(duration=duration, segments=segments, marks=marks, source=source,
                    turns={k: v for k, v in turns.items() if v})
