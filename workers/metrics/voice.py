"""Voice metrics (SPEC 4.2): pure functions over the AI voice measurements made in the audio
stage (workers/audio/voice.py).

voice_change_detection — one change-point rule on per-utterance voice features: features are
standardised across the call's AI utterances; for every split with at least `MIN_SIDE`
utterances a side, ratio = distance between the two sides' centroids ÷ mean distance of the
utterances to their own side's centroid. The best split is a change when its ratio reaches
`voice_change_min_ratio` (agent setting, default 1.2), and the search recurses into both sides
to find further changes. A change whose two sides differ in the line itself — the share of
energy above 3.6 kHz moving by 10 dB or more (a telephone band removes it), or the SNR by more
than 10 dB — is reported as a line change
(`kind: "line"`: the same voice through a narrowband or noisier line), not as a voice change.
"""
from __future__ import annotations

import numpy as np

from workers.metrics.inputs import MetricInput, Skip

MIN_SIDE = 3        # utterances on each side of a change (fewer gives chance splits)
HIGH_BAND_STEP_DB = 10.0
SNR_STEP_DB = 10.0


def voice_tone_clarity(data: MetricInput) -> dict | Skip:
    """1–5 from DNSMOS P.808 on the AI's speech: 1 + 1.6 × (P.808 − 2.0), clamped."""
    clarity = (data.voice or {}).get("clarity")
    if not clarity:
        return Skip("not_enough_ai_speech")
    score = min(5.0, max(1.0, 1 + 1.6 * (clarity["p808_mos"] - 2.0)))
    return {"score": round(score, 2), "method": "dnsmos_p808", **clarity,
            "ai_speech_seconds": data.voice["speech_seconds"]}


def _split_ratio(x: np.ndarray, k: int) -> float:
    left, right = x[:k], x[k:]
    centre_l, centre_r = left.mean(axis=0), right.mean(axis=0)
    spread = (np.linalg.norm(left - centre_l, axis=1).mean() + np.linalg.norm(right - centre_r, axis=1).mean()) / 2
    return float(np.linalg.norm(centre_l - centre_r) / (spread + 1e-9))


def find_changes(x: np.ndarray, min_ratio: float, offset: int = 0) -> list[tuple[int, float]]:
    """(index of the first utterance after the change, ratio) for each change, by binary
    segmentation on standardised features."""
    if len(x) < 2 * MIN_SIDE:
        return []
    ratios = [(k, _split_ratio(x, k)) for k in range(MIN_SIDE, len(x) - MIN_SIDE + 1)]
    k, ratio = max(ratios, key=lambda item: item[1])
    if ratio < min_ratio:
        return []
    return (find_changes(x[:k], min_ratio, offset) + [(offset + k, ratio)]
            + find_changes(x[k:], min_ratio, offset + k))


def _line_changed(before: list[dict], after: list[dict]) -> str | None:
    def median(items, key):
        values = [u["line"][key] for u in items if u["line"][key] is not None]
        return float(np.median(values)) if values else None

    for key, step, name in (("high_band_db", HIGH_BAND_STEP_DB, "bandwidth"), ("snr_db", SNR_STEP_DB, "snr")):
        a, b = median(before, key), median(after, key)
        if a is not None and b is not None and abs(a - b) >= step:
            return name
    return None


def voice_change_detection(data: MetricInput) -> dict | Skip:
    utterances = (data.voice or {}).get("utterances") or []
    if len(utterances) < 2 * MIN_SIDE:
        return Skip("not_enough_ai_speech")
    x = np.array([u["features"] for u in utterances], dtype=float)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    min_ratio = float(data.thresholds.get("voice_change_min_ratio", 1.2))
    changes, line_changes = [], []
    cuts = find_changes(x, min_ratio)
    bounds = [0] + [k for k, _ in cuts] + [len(utterances)]
    for i, (k, ratio) in enumerate(cuts):
        event = {"at_second": utterances[k]["at_second"], "score": round(ratio, 3), "utterance": k + 1}
        line = _line_changed(utterances[bounds[i]:k], utterances[k:bounds[i + 2]])
        (line_changes if line else changes).append({**event, "kind": "line" if line else "voice",
                                                    **({"line_change": line} if line else {})})
    return {"detected": bool(changes), "count": len(changes), "changes": changes, "line_changes": line_changes,
            "min_ratio": min_ratio, "utterances": len(utterances)}
