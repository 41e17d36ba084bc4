"""A transcript from per-channel words: turns with roles and times (docs/metrics.md#transcription)."""
from __future__ import annotations

from workers.asr.base import Word
from workers.metrics.inputs import ROLE_OF

MAX_PAUSE_S = 2.0  # a longer pause inside one party's speech starts a new turn


def build_transcript(words: dict[str, list[Word]]) -> list[dict]:
    """Words of both parties in time order; a turn is a party's run of words not broken by the
    other party's words (nor by a pause over MAX_PAUSE_S)."""
    timeline = sorted(((w, party) for party, ws in words.items() for w in ws), key=lambda x: (x[0].start, x[0].end))
    turns: list[dict] = []
    for word, party in timeline:
        last = turns[-1] if turns else None
        if last and last["role"] == ROLE_OF[party] and word.start - last["end_time"] <= MAX_PAUSE_S:
            last["content"] += " " + word.text
            last["end_time"] = max(last["end_time"], round(word.end, 3))
        else:
            turns.append({"role": ROLE_OF[party], "content": word.text, "start_time": round(word.start, 3),
                          "end_time": round(word.end, 3)})
    return turns
