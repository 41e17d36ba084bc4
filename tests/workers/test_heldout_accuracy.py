"""A slice of the held-out evaluation corpus (tests/eval) in the test run: one-minute calls from
report seeds, every condition, scored against their exact truth with the harness of
tests/bench/accuracy_eval.py (which runs the whole corpus and prints the table we quote).

The tolerances are the accuracy targets of docs/accuracy.md. Where a condition does not reach a
target yet, its bound here is what the engine measurably does (with a margin for the handful of
calls in the slice) and the entry says so: the test then guards against getting worse, and the
gap stays visible instead of the condition being dropped.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests.eval import conditions as cond
from tests.eval import voices
from tests.eval.corpus import REPORT_SEEDS, build_call
from tests.eval.score import Score, score_call, summarise
from workers.audio.activity import VadParams
from workers.audio.analysis import analyse_recording

pytestmark = pytest.mark.skipif(not voices.available(), reason="espeak-ng, flite and festival: deploy/test.sh installs them")

SLICE_SEEDS = list(REPORT_SEEDS)[:2]
TARGET = {"latency_mae": 25, "bias": 15, "p95": 60, "stop_mae": 40, "silence_edge": 100, "talk_ratio": 0.02,
          "ttfw": 50, "missed_turns": 0, "extra_turns": 0, "missed_intr": 0, "phantom_intr": 0, "type_acc": 98}
# Conditions not at target yet (docs/accuracy.md#where-it-falls-short): bounds from what the engine
# measured on this slice (in brackets), with a margin. Each entry is a known gap, not a target.
BELOW_TARGET: dict[str, dict] = {
    "white-noise": {"latency_mae": 35, "stop_mae": 110},                       # [24 ms, stop 76 ms]
    "pink-noise": {"stop_mae": 180},                                           # [stop 136 ms]
    "noise+echo": {"latency_mae": 35, "bias": 25, "missed_intr": 1, "phantom_intr": 1},  # [23, +17, 1/1]
    "noise+echo mp3-8k-24kbps": {"latency_mae": 70, "bias": 55, "p95": 180, "stop_mae": 250,
                                 "silence_edge": 150},                         # [53, +39, 137, 186, 102]
    # speech of three other voices under the caller, 4–14 dB down: the worst condition by far
    "babble": {"latency_mae": 180, "bias": 160, "p95": 450, "missed_turns": 5, "extra_turns": 3,
               "missed_intr": 2, "phantom_intr": 3, "silence_edge": 300, "talk_ratio": 0.08,
               "ttfw": 400},                                                   # [129, −109, 356, 3/1, 1/1…]
}


# People, not TTS: calls built from recorded human prompts (tests/eval/voices.py), in the formats a
# telephony stack sends and with a line's noise and echo. All at target on the report seeds.
RECORDED_CONDITIONS = ("wav-8k", "ulaw-8k", "mp3-8k-24kbps", "opus-webm-16kbps", "pink-noise", "echo")


def _slice(recorded: bool, names: list[str]) -> dict[str, Score]:
    scores = {name: Score() for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in SLICE_SEEDS:
            call = build_call(seed, minutes=1.0, recorded=recorded)
            for name in names:
                data, suffix, _ = cond.apply(call.audio, cond.BY_NAME[name], seed, set(call.voices.values()))
                path = os.path.join(tmp, f"{seed}.{suffix}")
                Path(path).write_bytes(data)
                analysis = analyse_recording(path, "left", None, VadParams())
                scores[name].add(score_call(call.truth, analysis.speech, f"seed {seed} [{name}]"))
    return scores


@pytest.fixture(scope="module")
def slice_scores() -> dict[str, Score]:
    return _slice(False, [c.name for c in cond.CONDITIONS])


@pytest.fixture(scope="module")
def recorded_scores() -> dict[str, Score]:
    if not voices.recorded_available():
        pytest.skip("the Asterisk prompt sets: deploy/test.sh installs them")
    return _slice(True, list(RECORDED_CONDITIONS))


@pytest.mark.parametrize("name", [c.name for c in cond.CONDITIONS])
def test_condition_within_tolerance(slice_scores, name):
    assert_within(slice_scores[name], name, {**TARGET, **BELOW_TARGET.get(name, {})})


@pytest.mark.parametrize("name", RECORDED_CONDITIONS)
def test_recorded_human_speech_within_target(recorded_scores, name):
    assert_within(recorded_scores[name], name, TARGET)


def assert_within(score: Score, name: str, limit: dict) -> None:
    s = summarise(score)
    where = f"{name}: {s} {score.details}"
    assert s["latencies"] > 0, where
    assert s["latency MAE ms"] <= limit["latency_mae"], where
    assert abs(s["bias ms"]) <= limit["bias"], where
    assert s["p95 |err| ms"] <= limit["p95"], where
    assert score.missed_turns <= limit["missed_turns"] and score.extra_turns <= limit["extra_turns"], where
    assert score.missed_interruptions <= limit["missed_intr"], where
    assert score.phantom_interruptions <= limit["phantom_intr"], where
    if score.interruptions_typed:
        assert s["type acc %"] >= limit["type_acc"], where
    if score.stop_errors:
        assert s["stop MAE ms"] <= limit["stop_mae"], where
    assert s["silence edge max ms"] <= limit["silence_edge"], where
    assert s["talk ratio max err"] <= limit["talk_ratio"], where
    assert s["ttfw max err ms"] <= limit["ttfw"], where


def test_truth_is_exact_for_the_clean_file():
    """The harness itself: a 16-bit WAV of the truth's own audio, scored against the truth with
    no engine in between, pairs every event and reports zero error (speech edges are the clip
    rule's, so only the engine can move them)."""
    call = build_call(SLICE_SEEDS[0], minutes=1.0)
    from workers.metrics.timeline import make_speech

    score = score_call(call.truth, make_speech(call.truth["ai"], call.truth["user"]))
    assert score.latency_errors and not any(score.latency_errors)
    assert score.missed_turns == score.extra_turns == score.phantom_interruptions == 0
    assert np.allclose(score.start_errors, 0) and np.allclose(score.end_errors, 0)


def test_a_low_voice_echo_makes_no_phantom_speech(tmp_path):
    """A case found on a tuning seed (1022, echo): the caller's low espeak voice comes back on the
    agent's line 18 dB down and 183 ms late, between two 10 ms frames. Band powers measured on
    10 ms windows swung with where each pitch pulse fell, the echo predicted from the caller's
    channel fell short of the real one, and the agent's line got nine phantom interruptions
    (docs/metrics.md#speech-activity, step 4)."""
    call = build_call(1022)
    data, suffix, info = cond.apply(call.audio, cond.BY_NAME["echo"], 1022, set(call.voices.values()))
    assert info["echo"][0]["delay_ms"] == 183
    path = tmp_path / f"call.{suffix}"
    path.write_bytes(data)
    score = score_call(call.truth, analyse_recording(str(path), "left", None, VadParams()).speech)
    assert score.phantom_interruptions == 0 and score.missed_interruptions == 0, score.details
    assert score.missed_turns == 0 and score.extra_turns == 0, score.details
    assert summarise(score)["stop MAE ms"] <= TARGET["stop_mae"], score.details


def test_an_echo_under_noise_does_not_hold_the_agent_open(tmp_path):
    """A case found on a tuning seed (1008, noise+echo): the caller comes back on the agent's line
    18 dB down and 29 ms late under −34 dBFS pink noise. The echo lifted the level under the caller
    by 4 dB, less than the 5.5 dB a clean line's test asks, so it was never subtracted and the
    caller's echo kept the agent talking after each barge-in: stop times 0.3–1.6 s long
    (docs/metrics.md#speech-activity, step 4: an echo under noise)."""
    call = build_call(1008)
    data, suffix, info = cond.apply(call.audio, cond.BY_NAME["noise+echo"], 1008, set(call.voices.values()))
    assert info["echo"][0] == {"db": -18.1, "delay_ms": 29}
    path = tmp_path / f"call.{suffix}"
    path.write_bytes(data)
    score = score_call(call.truth, analyse_recording(str(path), "left", None, VadParams()).speech)
    assert score.stop_errors, "the call has barge-ins whose stop times are measured"
    assert summarise(score)["stop MAE ms"] <= TARGET["stop_mae"], score.details
    assert score.phantom_interruptions == 0 and score.missed_turns == 0, score.details


def test_background_talk_is_not_taken_for_the_party(tmp_path):
    """A case found on a tuning seed (1006, babble): three other voices talk under the agent at
    −31 dBFS, about 10 dB under its speech. The detector hears speech all call long, the noise
    ceiling was guessed 12 dB under the speech level, and the background words next to the
    agent's own were chained onto it: 12 missed turns, the agent's silences gone, stop times of
    18 and 32 s (docs/metrics.md#speech-activity, step 3: background talk)."""
    call = build_call(1006)
    data, suffix, info = cond.apply(call.audio, cond.BY_NAME["babble"], 1006, set(call.voices.values()))
    assert info["noise_dbfs"] == [-31.3, -38.6]
    path = tmp_path / f"call.{suffix}"
    path.write_bytes(data)
    score = score_call(call.truth, analyse_recording(str(path), "left", None, VadParams()).speech)
    s = summarise(score)
    assert score.missed_turns == 0 and score.extra_turns == 0, score.details
    assert score.missed_silences == 0 and score.extra_silences == 0 and score.phantom_interruptions == 0, score.details
    assert s["talk ratio max err"] <= TARGET["talk_ratio"], score.details
    # still above target (74 ms on this call; docs/accuracy.md#where-it-falls-short), but no longer seconds
    assert score.stop_errors and s["stop MAE ms"] <= 150, score.details
