"""Voice metrics (docs/metrics.md#the-catalogue): pure functions over the AI voice measurements made in the audio
stage (workers/audio/voice.py).

voice_change_detection — one change-point rule on per-utterance voice features
(docs/metrics.md#voice-change-detection). The features that carry the speaker — MFCC means
(timbre) and the F0 median and range — are standardised across the call's AI utterances. For
every split with at least `MIN_SIDE` utterances a side, each feature's two-sample t statistic
is taken, and the split's score is their root mean square ÷ √(utterances): how many standard
errors the two sides' voices lie apart, per feature, whatever the call's length. The best split
is a change when its score reaches `voice_change_min_ratio` (agent setting, default 0.7) and
the features lie MIN_T standard errors apart in all (a side of a few utterances can split by
chance), and the search recurses into both sides. The MFCC spreads are left out: they follow the script and
the line more than the voice (measured on the evaluation corpus, tests/bench/voice_eval.py).

A change whose two sides differ in the line itself — the share of energy above 3.6 kHz moving
by 10 dB or more (a telephone band removes it), the SNR by 10 dB, or the speech bandwidth by
1.5 kHz (noise widens it) — is reported as a line change (`kind: "line"`), unless the pitch
moved too (its t statistics ≥ F0_VOICE): a line does not change a speaker's pitch, another
voice does.
"""
from __future__ import annotations

import numpy as np

from workers.metrics.inputs import MetricInput, Skip

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


def find_changes(x: np.ndarray, min_score: float, offset: int = 0) -> list[tuple[int, float]]:
    """(index of the first utterance after the change, score) for each change, by binary
    segmentation on standardised speaker features."""
    if len(x) < 2 * MIN_SIDE:
        return []
    scores = [(k, _split_score(x, k)) for k in range(MIN_SIDE, len(x) - MIN_SIDE + 1)]
    k, score = max(scores, key=lambda item: item[1])
    if score < min_score or score * np.sqrt(len(x)) < MIN_T:
        return []
    return (find_changes(x[:k], min_score, offset) + [(offset + k, score)]
            + find_changes(x[k:], min_score, offset + k))


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


def voice_change_detection(data: MetricInput) -> dict | Skip:
    utterances = (data.voice or {}).get("utterances") or []
    if len(utterances) < 2 * MIN_SIDE:
        return Skip("not_enough_ai_speech")
    x = np.array([u["features"] for u in utterances], dtype=float)[:, SPEAKER_FEATURES]
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    min_score = float(data.thresholds.get("voice_change_min_ratio", 0.7))
    changes, line_changes = [], []
    cuts = find_changes(x, min_score)
    bounds = [0] + [k for k, _ in cuts] + [len(utterances)]
    for i, (k, score) in enumerate(cuts):
        event = {"at_second": utterances[k]["at_second"], "score": round(score, 3), "utterance": k + 1}
        part = slice(bounds[i], bounds[i + 2])
        line = _line_changed(utterances[bounds[i]:k], utterances[k:bounds[i + 2]])
        pitch_moved = float(np.max(_t_statistics(x[part][:, F0_FEATURES], k - bounds[i]))) >= F0_VOICE
        if line and not pitch_moved:
            line_changes.append({**event, "kind": "line", "line_change": line})
        else:
            changes.append({**event, "kind": "voice"})
    return {"detected": bool(changes), "count": len(changes), "changes": changes, "line_changes": line_changes,
            "min_ratio": min_score, "utterances": len(utterances)}
