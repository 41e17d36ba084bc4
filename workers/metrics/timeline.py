"""Speech as per-party segments, and the turns, overlaps and gaps derived from them.

Times are seconds from call start (floats). A *segment* is one stretch of one party's speech;
a *turn* is a party's maximal run of segments not broken by the other party's speech in the
gaps between them (docs/metrics.md#turns). The same structures are built from a timed transcript or, later,
from voice activity in the audio, so every metric is computed once for both sources.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

AI, USER = "ai", "user"
Segment = tuple[float, float]
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


@dataclass(frozen=True)
class Speech:
    ai: tuple[Segment, ...]
    user: tuple[Segment, ...]

    def of(self, party: str) -> tuple[Segment, ...]:
        return self.ai if party == AI else self.user


@dataclass(frozen=True)
class Turn:
    party: str
    start: float
    end: float
    segments: tuple[Segment, ...]


def other(party: str) -> str:
    return USER if party == AI else AI


def normalise(segments) -> tuple[Segment, ...]:
    """Sorted, with overlapping or touching segments of one party merged; empty ones dropped."""
    merged: list[list[float]] = []
    for start, end in sorted((float(s), float(e)) for s, e in segments if e > s):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def make_speech(ai, user) -> Speech:
    return Speech(normalise(ai), normalise(user))


def _speaks_within(segments: tuple[Segment, ...], start: float, end: float) -> bool:
    """True when any segment overlaps the open interval (start, end). Segments of one party
    are sorted and disjoint, so their ends are sorted too and one bisection finds the candidate."""
    i = bisect.bisect_right(segments, start, key=lambda seg: seg[1])
    return i < len(segments) and segments[i][0] < end


def turns(speech: Speech) -> list[Turn]:
    """All turns of both parties, ordered by start time."""
    result = []
    for party in (AI, USER):
        segments, others = speech.of(party), speech.of(other(party))
        run: list[Segment] = []
        for seg in segments:
            if run and _speaks_within(others, run[-1][1], seg[0]):
                result.append(Turn(party, run[0][0], run[-1][1], tuple(run)))
                run = []
            run.append(seg)
        if run:
            result.append(Turn(party, run[0][0], run[-1][1], tuple(run)))
    return sorted(result, key=lambda t: (t.start, t.party))


def active_at(segments: tuple[Segment, ...], t: float) -> Segment | None:
    """The segment covering instant t (start < t < end, strictly inside), if any."""
    i = bisect.bisect_right(segments, (t, float("inf")))
    if i and segments[i - 1][0] < t < segments[i - 1][1]:
        return segments[i - 1]
    return None


def total(segments: tuple[Segment, ...]) -> float:
    return sum(e - s for s, e in segments)


def intersection(a: tuple[Segment, ...], b: tuple[Segment, ...]) -> float:
    """Seconds during which both segment lists speak (two-pointer sweep)."""
    i = j = 0
    both = 0.0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            both += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return both


def count_words(text: str | None) -> int:
    return len(_WORD.findall(text or ""))


def ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def at(seconds: float) -> float:
    return round(seconds, 3)
