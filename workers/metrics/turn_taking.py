"""Turn-taking metrics (docs/metrics.md#the-catalogue) over a Speech timeline (source-agnostic, pure).

Each function takes a MetricInput and returns result_data (a dict) or a Skip. Thresholds are
milliseconds from the agent's analysis_settings merged over the SPEC defaults; each result
states the thresholds it used.
"""
from __future__ import annotations

import math
from typing import Any

from workers.metrics.inputs import MetricInput, Skip
from workers.metrics.timeline import AI, USER, Segment, Speech, active_at, at, intersection, ms, other, total, turns


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _require_speech(data: MetricInput) -> Speech | Skip:
    if data.speech is None:
        return Skip("no_timed_transcript")
    return data.speech


def latency_ms(data: MetricInput):
    """AI response latency: for each AI turn whose start follows a user's speech (the last speech
    to end before it is the user's, and the user is not still speaking), start − that end."""
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    ordered = turns(speech)
    rows = []
    for index, turn in enumerate(ordered, start=1):
        if turn.party != AI or active_at(speech.user, turn.start):
            continue  # starting over the user is an AI interruption, not a latency
        last_user = max((e for s, e in speech.user if e <= turn.start), default=None)
        last_ai = max((e for s, e in speech.ai if e <= turn.start), default=None)
        if last_user is None or (last_ai is not None and last_ai > last_user):
            continue
        rows.append({"turn": index, "latency_ms": ms(turn.start - last_user), "at_second": at(turn.start)})
    if not rows:
        return Skip("not_enough_turns")
    values = [r["latency_ms"] for r in rows]
    return {
        "average_ms": int(round(sum(values) / len(values))),
        "p50_ms": int(round(percentile(values, 50))),
        "p90_ms": int(round(percentile(values, 90))),
        "p95_ms": int(round(percentile(values, 95))),
        "p99_ms": int(round(percentile(values, 99))),
        "max_ms": max(values),
        "turns": rows,
    }


RESUME_WITHIN_S = 1.0  # a pause in the spoken-over party's speech shorter than this is not its stop


def _spoken_until(segments: tuple[Segment, ...], current: Segment, until: float) -> float:
    """Where the spoken-over party really stops: the end of `current`, carried across its own
    pauses (each < RESUME_WITHIN_S) for as long as it resumes before `until` (the end of the
    interrupter's turn). A pause inside the speech is not a stop."""
    end = current[1]
    index = segments.index(current) + 1
    while index < len(segments) and segments[index][0] < until and segments[index][0] - end < RESUME_WITHIN_S:
        end = segments[index][1]
        index += 1
    return end


def _interruptions(speech: Speech, interrupter: str, min_overlap_ms: float, backchannel_max_ms: float) -> list[dict]:
    """Turns of `interrupter` that start while the other party speaks, both speaking for
    ≥ min_overlap_ms (docs/metrics.md#interruptions).

    duration_ms is the time both spoke during the interrupter's turn. The type follows what
    happened to the floor: a turn lasting backchannel_max_ms or more is a barge-in whatever the
    overlap; a shorter one is a backchannel only when the other party keeps talking past it.
    """
    spoken_over = speech.of(other(interrupter))
    events = []
    for turn in turns(speech):
        if turn.party != interrupter:
            continue
        current = active_at(spoken_over, turn.start)
        if current is None:
            continue
        within = tuple((max(s, turn.start), min(e, turn.end)) for s, e in spoken_over
                       if e > turn.start and s < turn.end)
        both = intersection(turn.segments, within)
        if ms(both) < min_overlap_ms:
            continue
        stops = _spoken_until(spoken_over, current, turn.end)
        short = ms(turn.end - turn.start) < backchannel_max_ms
        keeps_floor = stops > turn.end
        events.append({
            "at_second": at(turn.start),
            "duration_ms": ms(both),
            "type": "backchannel" if short and keeps_floor else "barge_in",
            "_stop_time_ms": ms(stops - turn.start),
        })
    return events


def _public(events: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if not k.startswith("_")} for e in events]


def _interruption_result(data: MetricInput, interrupter: str):
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    t = data.thresholds
    events = _interruptions(speech, interrupter, t["interruption_min_overlap_ms"], t["backchannel_max_ms"])
    return {"count": len(events), "interruptions": _public(events),
            "threshold_ms": t["interruption_min_overlap_ms"], "backchannel_max_ms": t["backchannel_max_ms"]}


def user_interruptions(data: MetricInput):
    """The user starts speaking while the AI speaks, both speaking ≥ the overlap threshold."""
    return _interruption_result(data, USER)


def ai_interruptions(data: MetricInput):
    """The AI starts speaking while the user speaks, both speaking ≥ the overlap threshold."""
    return _interruption_result(data, AI)


def stop_time_after_interruption(data: MetricInput):
    """For each user barge-in: end of the AI speech it cut into − start of the user's speech."""
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    t = data.thresholds
    barge_ins = [e for e in _interruptions(speech, USER, t["interruption_min_overlap_ms"], t["backchannel_max_ms"])
                 if e["type"] == "barge_in"]
    events = [{"at_second": e["at_second"], "stop_time_ms": e["_stop_time_ms"]} for e in barge_ins]
    average = int(round(sum(e["stop_time_ms"] for e in events) / len(events))) if events else None
    return {"average_ms": average, "events": events, "threshold_ms": t["interruption_min_overlap_ms"],
            "backchannel_max_ms": t["backchannel_max_ms"]}


def silence_detection(data: MetricInput):
    """Stretches of ≥ threshold where nobody speaks, between the first and the last speech,
    each charged to the party expected to speak next (the one who did not speak last)."""
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    threshold = data.thresholds["silence_threshold_ms"]
    tagged = sorted([(s, e, AI) for s, e in speech.ai] + [(s, e, USER) for s, e in speech.user])
    if not tagged:
        return Skip("no_speech")
    channels: dict[str, dict[str, Any]] = {party: {"count": 0, "total_ms": 0, "events": []} for party in (AI, USER)}
    spoken_until, last_speaker, last_start = tagged[0][1], tagged[0][2], tagged[0][0]
    for start, end, party in tagged[1:]:
        gap = start - spoken_until
        if gap > 0 and ms(gap) >= threshold:
            expected = other(last_speaker)
            channels[expected]["count"] += 1
            channels[expected]["total_ms"] += ms(gap)
            channels[expected]["events"].append({"at_second": at(spoken_until), "duration_ms": ms(gap)})
        if end > spoken_until or (end == spoken_until and start > last_start):
            spoken_until, last_speaker, last_start = end, party, start
    return {"ai_channel": channels[AI], "user_channel": channels[USER], "threshold_ms": threshold}


def talk_ratio(data: MetricInput):
    """AI talk time ÷ (AI + user talk time); overlap is counted for both parties."""
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    ai, user = total(speech.ai), total(speech.user)
    if ai + user == 0:
        return Skip("no_speech")
    return {"ratio": round(ai / (ai + user), 4), "ai_talk_ms": ms(ai), "user_talk_ms": ms(user),
            "overlap_ms": ms(intersection(speech.ai, speech.user))}


def word_per_minute(data: MetricInput):
    """AI words ÷ AI speaking minutes (and the same for the user as user_wpm)."""
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    if data.words is None:
        return Skip("no_transcript")
    ai_seconds, user_seconds = total(speech.ai), total(speech.user)
    if ai_seconds == 0:
        return Skip("no_ai_speech")
    user_wpm = round(data.words[USER] / (user_seconds / 60), 1) if user_seconds else None
    return {"wpm": round(data.words[AI] / (ai_seconds / 60), 1), "words": data.words[AI],
            "speaking_seconds": round(ai_seconds, 3), "user_wpm": user_wpm,
            "user_words": data.words[USER], "user_speaking_seconds": round(user_seconds, 3)}


def time_to_first_word_ms(data: MetricInput):
    """Call start → first AI speech, on inbound calls (on outbound calls the callee speaks first)."""
    if data.call_direction != "inbound":
        return Skip("outbound_call")
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    if not speech.ai:
        return Skip("no_ai_speech")
    return {"ms": ms(speech.ai[0][0])}


FALSE_INTERRUPTION_WINDOW = 1.0  # seconds: the AI stopping this soon after a user sound reacted to it


def false_interruptions(data: MetricInput):
    """The AI stops talking within 1 s of a user sound that was not a turn: user speech shorter
    than backchannel_max_ms, started while the AI spoke, after which the user does not go on."""
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    short_ms = data.thresholds["backchannel_max_ms"]
    events = []
    for turn in turns(speech):
        if turn.party != USER or ms(turn.end - turn.start) >= short_ms:
            continue
        current = active_at(speech.ai, turn.start)
        if current is None or current[1] - turn.start > FALSE_INTERRUPTION_WINDOW:
            continue  # the AI was not speaking, or kept talking past the window
        resumed = [s for s, _ in speech.user if turn.end < s <= current[1] + FALSE_INTERRUPTION_WINDOW]
        if resumed:
            continue  # the user went on speaking: a real (if hesitant) turn
        events.append({"at_second": at(turn.start), "stop_time_ms": ms(current[1] - turn.start)})
    return {"count": len(events), "events": events, "backchannel_max_ms": short_ms}


def interruption_non_adherence(data: MetricInput):
    """User barge-ins (≥ 1 s of user speech) during which the AI keeps talking ≥ non_adherence_ms."""
    speech = _require_speech(data)
    if isinstance(speech, Skip):
        return speech
    threshold = data.thresholds["non_adherence_ms"]
    events = []
    for turn in turns(speech):
        if turn.party != USER or ms(turn.end - turn.start) < 1000:
            continue
        current = active_at(speech.ai, turn.start)
        if current is None:
            continue
        overlap = ms(min(current[1], turn.end) - turn.start)
        if overlap >= threshold:
            events.append({"at_second": at(turn.start), "overlap_ms": overlap})
    return {"count": len(events), "events": events, "threshold_ms": threshold}
