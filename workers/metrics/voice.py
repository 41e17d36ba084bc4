"""Voice metrics (docs/metrics.md#the-catalogue): pure functions over the AI voice measurements made in the audio
stage (workers/audio/voice.py).

voice_change_detection — binary segmentation of the call's AI utterances into voices
(docs/metrics.md#voice-change-detection), on one of two descriptions of each utterance:

- speaker embeddings (workers/audio/speaker_embedding.py), when the audio stage had the
  encoder's weights: a split's score is its similarity drop — the mean cosine similarity of
  same-side pairs less the mean across — and a change needs EMBEDDING_MIN_DROP, scaled by
  `voice_change_min_ratio` ÷ its default 0.7;
- otherwise the hand-made features that carry the speaker — MFCC means (timbre) and the F0
  median and range — standardised across the call; a split's score is the root mean square of
  the features' two-sample t statistics ÷ √(utterances), and a change needs
  `voice_change_min_ratio` and MIN_T standard errors (a side of a few utterances can split by
  chance). The MFCC spreads are left out: they follow the script and the line more than the
  voice. The result's `reasons` then say `speaker_embedding_unavailable`.

Each side of a change needs MIN_SIDE utterances. A change whose two sides differ in the line
itself — the share of energy above 3.6 kHz moving by 10 dB or more (a telephone band removes it),
the SNR by 10 dB, or the speech bandwidth by 1.5 kHz (noise widens it) — is reported as a line
change (`kind: "line"`), unless the voice moved beyond what a line does: with embeddings a drop
of LINE_MIN_DROP for that kind of step, with features the pitch's t statistics ≥ F0_VOICE.
The thresholds come from the tuning seeds of the evaluation corpus (tests/bench/voice_eval.py
--set tuning), synthetic and recorded speech.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workers.metrics.inputs import MetricInput, Skip

DEFAULT_MIN_RATIO = 0.7  # voice_change_min_ratio's default (app/catalogue.py)
EMBEDDING_MIN_DROP = 0.06   # similarity drop of a voice change at the default ratio (tuning seeds)
# …and when the line changed at the same split, by what changed: an SNR step (the floor, which
# the encoder's front end subtracts) moves the embedding little, a bandwidth step (a codec, or
# noise over the speech band) as far as another voice can (tuning seeds)
LINE_MIN_DROP = {"snr": 0.12, "bandwidth": 0.2}
MIN_SIDE = 3        # utterances on each side of a change (fewer gives chance splits)
HIGH_BAND_STEP_DB = 10.0
SNR_STEP_DB = 10.0
BANDWIDTH_STEP_HZ = 1500.0
MIN_T = 2.0         # …and at least this many standard errors apart (few utterances give chance splits)
F0_VOICE = 0.8      # pitch t statistic (÷ √utterances) beyond which a line change is a voice change too
SPEAKER_FEATURES = list(range(19)) + [38, 39]   # MFCC 1–19 means, log-F0 median and range
F0_FEATURES = [19, 20]                            # their positions among SPEAKER_FEATURES


def voice_tone_clarity(data: MetricInput) -> dict | Skip:
    """1–5 from DNSMOS P.808 on the AI's speech: 1 + 1.6 × (P.808 − 2.0), clamped."""
    clarity = (data.voice or {}).get("clarity")
    if not clarity:
        return Skip("not_enough_ai_speech")
    score = min(5.0, max(1.0, 1 + 1.6 * (clarity["p808_mos"] - 2.0)))
    return {"score": round(score, 2), "method": "dnsmos_p808", **clarity,
            "ai_speech_seconds": (data.voice or {}).get("speech_seconds")}


def _t_statistics(x: np.ndarray, k: int) -> np.ndarray:
    """Per-feature two-sample t statistics of x[:k] against x[k:], divided by √len(x)."""
    left, right = x[:k], x[k:]
    pooled = np.sqrt((left.var(axis=0, ddof=1) * (len(left) - 1) + right.var(axis=0, ddof=1) * (len(right) - 1))
                     / (len(x) - 2)) + 1e-9
    t = np.abs(left.mean(axis=0) - right.mean(axis=0)) / pooled / np.sqrt(1 / len(left) + 1 / len(right))
    return t / np.sqrt(len(x))


def _split_score(x: np.ndarray, k: int) -> float:
    return float(np.sqrt(np.mean(_t_statistics(x, k) ** 2)))


def segment(n: int, score_split: Callable[[int, int, int], float], accepts: Callable[[float, int], bool],
            offset: int = 0) -> list[tuple[int, float]]:
    """(index of the first utterance after the change, score) for each change among utterances
    offset…offset+n, by binary segmentation: the best-scoring split with MIN_SIDE utterances a
    side, if `accepts(score, n)`, then both sides again. `score_split(lo, hi, k)` scores splitting
    utterances lo…hi after k of them."""
    if n < 2 * MIN_SIDE:
        return []
    scores = [(k, score_split(offset, offset + n, k)) for k in range(MIN_SIDE, n - MIN_SIDE + 1)]
    k, score = max(scores, key=lambda item: item[1])
    if not accepts(score, n):
        return []
    return (segment(k, score_split, accepts, offset) + [(offset + k, score)]
            + segment(n - k, score_split, accepts, offset + k))


def similarity_drop(similarity: np.ndarray, k: int) -> float:
    """How much less alike utterances are across a split after k than on the same side: the mean
    cosine similarity of same-side pairs (each side weighted by its utterances) less the mean
    across."""
    n = len(similarity)
    def within(block: np.ndarray) -> float:
        return float((block.sum() - np.trace(block)) / (len(block) * (len(block) - 1)))
    same = (within(similarity[:k, :k]) * k + within(similarity[k:, k:]) * (n - k)) / n
    return same - float(similarity[:k, k:].mean())


def _line_changed(before: list[dict], after: list[dict]) -> str | None:
    def median(items, key):
        values = [u["line"][key] for u in items if u["line"][key] is not None]
        return float(np.median(values)) if values else None

    for key, step, name in (("high_band_db", HIGH_BAND_STEP_DB, "bandwidth"), ("snr_db", SNR_STEP_DB, "snr"),
                            ("bandwidth_hz", BANDWIDTH_STEP_HZ, "bandwidth")):
        a, b = median(before, key), median(after, key)
        if a is not None and b is not None and abs(a - b) >= step:
            return name
    return None


def _embedding_changes(utterances: list[dict], min_ratio: float) -> list[tuple[int, float, str | None]]:
    """(utterance index, similarity drop, line change or None) of each voice or line change."""
    def similarity(key: str) -> np.ndarray:
        vectors = np.array([u[key] for u in utterances], dtype=float)
        return vectors @ vectors.T

    whole, band = similarity("embedding"), similarity("band_embedding")
    scale = min_ratio / DEFAULT_MIN_RATIO    # the agent's ratio scales the drops a change needs
    cuts = segment(len(utterances), lambda lo, hi, k: similarity_drop(whole[lo:hi, lo:hi], k),
                   lambda drop, n: drop >= EMBEDDING_MIN_DROP * scale)
    bounds = [0] + [k for k, _ in cuts] + [len(utterances)]
    found = []
    for i, (k, drop) in enumerate(cuts):
        lo, hi = bounds[i], bounds[i + 2]
        line = _line_changed(utterances[lo:k], utterances[k:hi])
        # a new line moves the embedding too: then only a larger drop is a voice, and after a
        # bandwidth step the voices must differ within the telephone band both sides still have
        voice = not line or (drop >= LINE_MIN_DROP[line] * scale and (
            line != "bandwidth" or similarity_drop(band[lo:hi, lo:hi], k - lo) >= EMBEDDING_MIN_DROP * scale))
        found.append((k, drop, None if voice else line))
    return found


def _feature_changes(utterances: list[dict], min_score: float) -> list[tuple[int, float, str | None]]:
    """The same from the hand-made features (MFCC means, pitch), when there are no embeddings."""
    x = np.array([u["features"] for u in utterances], dtype=float)[:, SPEAKER_FEATURES]
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    cuts = segment(len(x), lambda lo, hi, k: _split_score(x[lo:hi], k),
                   lambda score, n: score >= min_score and score * np.sqrt(n) >= MIN_T)
    bounds = [0] + [k for k, _ in cuts] + [len(utterances)]
    found = []
    for i, (k, score) in enumerate(cuts):
        part = slice(bounds[i], bounds[i + 2])
        line = _line_changed(utterances[bounds[i]:k], utterances[k:bounds[i + 2]])
        pitch_moved = float(np.max(_t_statistics(x[part][:, F0_FEATURES], k - bounds[i]))) >= F0_VOICE
        found.append((k, score, line if line and not pitch_moved else None))
    return found


def voice_change_detection(data: MetricInput) -> dict | Skip:
    utterances = (data.voice or {}).get("utterances") or []
    if len(utterances) < 2 * MIN_SIDE:
        return Skip("not_enough_ai_speech")
    min_ratio = float(data.thresholds.get("voice_change_min_ratio", DEFAULT_MIN_RATIO))
    if all("embedding" in u and "band_embedding" in u for u in utterances):
        method, reasons = "speaker_embedding", []
        found = _embedding_changes(utterances, min_ratio)
    else:
        method, reasons = "voice_features", ["speaker_embedding_unavailable"]
        found = _feature_changes(utterances, min_ratio)
    changes, line_changes = [], []
    for k, score, line in found:
        event = {"at_second": utterances[k]["at_second"], "score": round(score, 3), "utterance": k + 1}
        if line:
            line_changes.append({**event, "kind": "line", "line_change": line})
        else:
            changes.append({**event, "kind": "voice"})
    return {"detected": bool(changes), "count": len(changes), "changes": changes, "line_changes": line_changes,
            "method": method, "reasons": reasons, "min_ratio": min_ratio, "utterances": len(utterances)}
