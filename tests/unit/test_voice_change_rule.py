"""voice_change_detection's decision on given utterance measurements (workers/metrics/voice.py):
speaker embeddings when the audio stage had them, the hand-made features otherwise — and a line
step reported as a line change unless the voice moved further than a line moves it."""
from __future__ import annotations

import numpy as np

from app.catalogue import DEFAULT_THRESHOLDS
from workers.metrics.inputs import MetricInput
from workers.metrics.voice import voice_change_detection

CLEAN = {"bandwidth_hz": 3800, "high_band_db": -30.0, "snr_db": 40.0, "clipping_ratio": 0.0}
QUIET_ROOM = {**CLEAN, "snr_db": 25.0}


def _voices(rng: np.random.Generator, spread: float, *counts: int) -> list[np.ndarray]:
    """Unit vectors around one random centre per voice (a cosine similarity of ~1 − spread² / 2
    between two utterances of one voice; ~0 between voices)."""
    vectors = []
    for count in counts:
        centre = rng.standard_normal(256)
        for _ in range(count):
            v = centre / np.linalg.norm(centre) + rng.standard_normal(256) * spread / 16
            vectors.append(v / np.linalg.norm(v))
    return vectors


def _shifted(vectors: list[np.ndarray], rng: np.random.Generator, size: float) -> list[np.ndarray]:
    """The same utterances all nudged one way (a line's colour, or a similar voice)."""
    shift = rng.standard_normal(256) / 16 * size
    return [(v + shift) / np.linalg.norm(v + shift) for v in vectors]


def _detect(embeddings: list[np.ndarray], lines: list[dict], band: list[np.ndarray] | None = None,
            **thresholds) -> dict:
    """`band`: the telephone-band embeddings (by default the same as the whole band's)."""
    utterances = [{"at_second": 5.0 * i, "line": line, "embedding": e.round(4).tolist(),
                   "band_embedding": b.round(4).tolist()}
                  for i, (e, b, line) in enumerate(zip(embeddings, band or embeddings, lines))]
    data = MetricInput(None, None, "inbound", {**DEFAULT_THRESHOLDS, **thresholds}, voice={"utterances": utterances})
    result = voice_change_detection(data)
    assert isinstance(result, dict)
    return result


def test_one_voice_throughout_is_no_change():
    result = _detect(_voices(np.random.default_rng(1), 0.5, 12), [CLEAN] * 12)
    assert result["method"] == "speaker_embedding" and result["reasons"] == []
    assert not result["detected"] and result["changes"] == result["line_changes"] == []


def test_another_voice_is_a_change_at_its_first_utterance():
    result = _detect(_voices(np.random.default_rng(2), 0.5, 7, 5), [CLEAN] * 12)
    assert result["count"] == 1 and result["changes"][0]["utterance"] == 8
    assert result["changes"][0]["at_second"] == 35.0


def test_a_new_voice_in_a_noisier_room_is_still_a_voice_change():
    result = _detect(_voices(np.random.default_rng(3), 0.5, 6, 6), [CLEAN] * 6 + [QUIET_ROOM] * 6)
    assert result["count"] == 1 and result["line_changes"] == []


def test_a_line_step_that_barely_moves_the_voice_is_a_line_change():
    rng = np.random.default_rng(4)
    one = _voices(rng, 0.5, 12)
    moved = one[:6] + _shifted(one[6:], rng, 0.6)     # a drop of ~0.14: under the 0.2 a line step needs
    narrowband = {**CLEAN, "high_band_db": -55.0}
    result = _detect(moved, [CLEAN] * 6 + [narrowband] * 6)
    assert not result["detected"], result
    assert [(c["utterance"], c["line_change"]) for c in result["line_changes"]] == [(7, "bandwidth")]


def test_after_a_bandwidth_step_the_voices_must_differ_within_the_telephone_band():
    rng = np.random.default_rng(7)
    one = _voices(rng, 0.5, 12)
    moved = one[:6] + _shifted(one[6:], rng, 1.0)     # a drop of ~0.3 in the whole band…
    narrowband = {**CLEAN, "high_band_db": -55.0}
    lines = [CLEAN] * 6 + [narrowband] * 6
    same_in_band = _detect(moved, lines, band=one)  # …none within the telephone band: a new line
    assert not same_in_band["detected"] and len(same_in_band["line_changes"]) == 1
    other_in_band = _detect(moved, lines, band=moved)
    assert other_in_band["count"] == 1 and other_in_band["line_changes"] == []


def test_a_higher_min_ratio_needs_a_larger_drop():
    rng = np.random.default_rng(5)
    one = _voices(rng, 0.5, 12)
    embeddings = one[:6] + _shifted(one[6:], rng, 0.8)    # a second, similar voice: a drop of ~0.2
    assert _detect(embeddings, [CLEAN] * 12)["detected"]
    assert not _detect(embeddings, [CLEAN] * 12, voice_change_min_ratio=3.5)["detected"]


def test_without_embeddings_the_features_decide_and_the_result_says_so():
    rng = np.random.default_rng(6)
    features = [np.concatenate([rng.standard_normal(38) * 0.1 + (3.0 if i >= 6 else 0.0),
                                [50 + (5 if i >= 6 else 0) + rng.standard_normal(), 3.0]]) for i in range(12)]
    utterances = [{"at_second": 5.0 * i, "line": CLEAN, "features": f.tolist()} for i, f in enumerate(features)]
    result = voice_change_detection(MetricInput(None, None, "inbound", dict(DEFAULT_THRESHOLDS),
                                                voice={"utterances": utterances}))
    assert isinstance(result, dict)
    assert result["method"] == "voice_features" and result["reasons"] == ["speaker_embedding_unavailable"]
    assert result["count"] == 1 and result["changes"][0]["utterance"] == 7
