"""transcription_accuracy (docs/metrics.md#transcription-accuracy): the provided transcript scored against the one generated
from the recording.

The generated transcript is the reference (it comes from the audio itself) and the provided one
is the hypothesis, so counts read from the provider's side: a word the provider added is an
insertion, one it missed a deletion. Each role is aligned on its own (AI words with AI words,
user with user: the order of overlapping turns differs between transcripts) and the counts are
summed for the overall rate: wer = (S + D + I) / reference words.

Normalisation before alignment (both sides): lower case; punctuation removed (apostrophes
inside words kept); hyphens split words; whole numbers written with digits spelled out
("10" → "ten", "3rd" → "third", "25%" → "twenty five percent"); fillers dropped (um, uh, uhm,
umm, erm, er, ah, hmm, hm, mm, mhm). Tool turns are ignored.
"""
from __future__ import annotations

import re

import jiwer

from workers.metrics.inputs import SPEAKERS, MetricInput, Skip

FILLERS = {"um", "uh", "uhm", "umm", "erm", "er", "ah", "hmm", "hm", "mm", "mhm"}
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINALS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
             "nine": "ninth", "twelve": "twelfth"}
_TOKEN = re.compile(r"(\d+)(st|nd|rd|th|%)?$")


def spell(n: int) -> str:
    """A whole number in English words, without "and" (up to the billions)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for size, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            rest = n % size
            return f"{spell(n // size)} {name}" + ("" if rest == 0 else " " + spell(rest))
    raise AssertionError(n)


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition(" ")
    last = _ORDINALS.get(last, last[:-1] + "ieth" if last.endswith("y") else last + "th")
    return f"{head} {last}".strip()


def normalise(text: str | None) -> list[str]:
    words: list[str] = []
    for token in re.sub(r"[-–—/]", " ", (text or "").lower()).split():
        token = re.sub(r"[^\w%']|_", "", token).strip("'")
        match = _TOKEN.match(token)
        if match and len(match.group(1)) <= 12:
            spelled = spell(int(match.group(1)))
            suffix = match.group(2)
            token = _ordinal(spelled) if suffix in ("st", "nd", "rd", "th") else spelled + (" percent" if suffix else "")
        words.extend(w for w in token.split() if w and w not in FILLERS)
    return words


def _role_words(transcript: list[dict]) -> dict[str, list[str]]:
    words: dict[str, list[str]] = {"ai": [], "user": []}
    for turn in transcript:
        if turn.get("role") in SPEAKERS:
            words[SPEAKERS[turn["role"]]].extend(normalise(turn.get("content")))
    return words


def transcription_accuracy(data: MetricInput) -> dict | Skip:
    if not data.provided:
        return Skip("no_provided_transcript")
    if data.generated is None:
        return Skip("no_generated_transcript")
    reference, hypothesis = _role_words(data.generated), _role_words(data.provided)
    totals = {"substitutions": 0, "deletions": 0, "insertions": 0, "reference_words": 0}
    by_role: dict[str, float | None] = {}
    for role in ("ai", "user"):
        ref, hyp = reference[role], hypothesis[role]
        if not ref:
            totals["insertions"] += len(hyp)
            by_role[role] = None
            continue
        out = jiwer.process_words(" ".join(ref), " ".join(hyp) if hyp else "")
        totals["substitutions"] += out.substitutions
        totals["deletions"] += out.deletions
        totals["insertions"] += out.insertions
        totals["reference_words"] += len(ref)
        by_role[role] = round(out.wer, 4)
    if totals["reference_words"] == 0:
        return Skip("no_generated_words")
    errors = totals["substitutions"] + totals["deletions"] + totals["insertions"]
    return {"wer": round(errors / totals["reference_words"], 4), **totals, "by_role": by_role,
            "hypothesis_words": sum(len(w) for w in hypothesis.values()),
            "reference": "generated", "normalisation": "lower case, no punctuation, digits spelled, no fillers"}
