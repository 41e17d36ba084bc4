"""Transcription, transcription accuracy, speaking rate and the AI voice metrics on generated
calls whose script, timing and voices are known (tests/support/callgen.py; espeak-ng)."""
from __future__ import annotations

import numpy as np
import pytest

from app.catalogue import DEFAULT_THRESHOLDS
from tests.support import callgen as cg
from tests.support.fake_asr import FakeTranscriptionServer
from workers.asr.base import TranscriberUnavailable
from workers.asr.local import model_path
from workers.asr.remote import OpenAITranscriber
from workers.asr.transcript import build_transcript
from workers.audio.activity import VadParams
from workers.audio.analysis import analyse_recording
from workers.audio.spill import ChannelSpill
from workers.audio.voice import measure_ai_voice
from workers.failure import StageFailure
from workers.metrics.inputs import MetricInput
from workers.metrics.registry import REGISTRY
from workers.metrics.timeline import make_speech
from workers.metrics.wer import transcription_accuracy

pytestmark = pytest.mark.skipif(not cg.espeak_available(), reason="espeak-ng is installed by deploy/test.sh")


def spill(call: cg.SynthCall, directory) -> list[str]:
    writer = ChannelSpill(str(directory))
    audio = call.audio if call.rate == 16000 else np.stack([cg.resample(ch, call.rate, 16000) for ch in call.audio])
    writer.write(audio.astype(np.float32))
    writer.close()
    return writer.paths


def generate(transcriber, call: cg.SynthCall, directory, whole_channels: bool = False) -> list[dict]:
    """The generated transcript as the audio stage makes it: one decode, the detector's speech
    segments handed to the engine (or, `whole_channels`, each channel left to the engine's own
    VAD, as for mono recordings)."""
    if whole_channels:
        paths = spill(call, directory)
        return build_transcript({"ai": transcriber.transcribe(paths[0]), "user": transcriber.transcribe(paths[1])})
    writer = ChannelSpill(str(directory))
    analysis = analyse_recording(_stereo(call, directory), "left", None, VadParams(), writer)
    ai, user = transcriber.transcribe_channels(writer.paths, [list(analysis.speech.ai), list(analysis.speech.user)])
    return build_transcript({"ai": ai, "user": user})


def script(call: cg.SynthCall) -> list[dict]:
    """The call's true transcript (what each party said, when)."""
    return [{"role": "AI Assistant" if line.party == "ai" else "User", "content": line.text,
             "start_time": start, "end_time": end}
            for line, (start, end) in zip(sorted(call.lines, key=lambda x: x.start), _ordered_truth(call))]


def _ordered_truth(call):
    spans = {p: iter(call.truth[p]) for p in call.truth}
    return [next(spans[line.party]) for line in sorted(call.lines, key=lambda x: x.start)]


def wer_against_script(call, generated) -> dict:
    # reference = the script, hypothesis = the engine's words
    return transcription_accuracy(MetricInput(None, None, "inbound", {}, provided=generated, generated=script(call)))


@pytest.fixture(scope="module")
def standard_call():
    return cg.render(cg.build_lines(cg.STANDARD_STEPS))


@pytest.fixture(scope="module")
def standard_generated(transcriber, standard_call, tmp_path_factory):
    return generate(transcriber, standard_call, tmp_path_factory.mktemp("std"))


# ---- transcription ----------------------------------------------------------------------------

@pytest.mark.parametrize("whole_channels", [False, True], ids=["detected-speech", "whole-channels"])
@pytest.mark.parametrize("steps", ["STANDARD_STEPS", "ALTERNATE_STEPS"])
def test_local_engine_wer_at_16k_is_at_most_030(transcriber, steps, whole_channels, tmp_path):
    call = cg.render(cg.build_lines(getattr(cg, steps)))
    generated = generate(transcriber, call, tmp_path, whole_channels)
    score = wer_against_script(call, generated)
    print(f"\n{steps} {'whole channels' if whole_channels else 'detected speech'}: WER {score['wer']} "
          f"(S {score['substitutions']}, D {score['deletions']}, "
          f"I {score['insertions']} of {score['reference_words']})")
    assert score["wer"] <= 0.30
    assert {t["role"] for t in generated} == {"AI Assistant", "User"}
    # turns are in time order with their times inside the call
    starts = [t["start_time"] for t in generated]
    assert starts == sorted(starts) and all(0 <= t["start_time"] <= t["end_time"] for t in generated)
    # and each lies on its party's real speech: word times were mapped back onto the channel
    for turn in generated:
        party = "ai" if turn["role"] == "AI Assistant" else "user"
        middle = (turn["start_time"] + turn["end_time"]) / 2
        assert any(start - 0.3 <= middle <= end + 0.3 for start, end in call.truth[party]), turn


def test_accuracy_recovers_known_corruptions(standard_call, standard_generated):
    provided = script(standard_call)
    baseline = transcription_accuracy(MetricInput(None, None, "inbound", {}, provided=provided,
                                                  generated=standard_generated))
    corrupted = [dict(t) for t in provided]
    ai = [i for i, t in enumerate(corrupted) if t["role"] == "AI Assistant"]
    user = [i for i, t in enumerate(corrupted) if t["role"] == "User"]
    words = corrupted[ai[0]]["content"].split()                 # 2 substitutions in the AI's first turn
    words[1], words[3] = "zebra", "quantum"
    corrupted[ai[0]]["content"] = " ".join(words)
    words = corrupted[ai[2]]["content"].split()                 # 3 deletions in the AI's third turn
    corrupted[ai[2]]["content"] = " ".join(words[:2] + words[5:])
    corrupted[user[0]]["content"] += " banana pineapple"       # 2 insertions in the user's first turn
    score = transcription_accuracy(MetricInput(None, None, "inbound", {}, provided=corrupted,
                                               generated=standard_generated))
    engine_errors = baseline["substitutions"] + baseline["deletions"] + baseline["insertions"]
    recovered = (score["substitutions"] - baseline["substitutions"], score["deletions"] - baseline["deletions"],
                 score["insertions"] - baseline["insertions"])
    print(f"\nengine's own errors {engine_errors}; recovered (S, D, I) {recovered} of (2, 3, 2)")
    assert sum(abs(got - want) for got, want in zip(recovered, (2, 3, 2))) <= max(1, engine_errors // 4)
    assert score["by_role"]["ai"] > baseline["by_role"]["ai"] and score["by_role"]["user"] > baseline["by_role"]["user"]


def test_words_per_minute_within_10_percent(standard_call, standard_generated, tmp_path):
    analysis = analyse_recording(_stereo(standard_call, tmp_path), "left", None, VadParams())
    words = {"ai": sum(len(t["content"].split()) for t in standard_generated if t["role"] == "AI Assistant"),
             "user": sum(len(t["content"].split()) for t in standard_generated if t["role"] == "User")}
    got = REGISTRY["word_per_minute"](MetricInput(analysis.speech, words, "inbound", dict(DEFAULT_THRESHOLDS), "audio"))
    truth = REGISTRY["word_per_minute"](MetricInput(make_speech(standard_call.truth["ai"], standard_call.truth["user"]),
                                                    standard_call.words(), "inbound", dict(DEFAULT_THRESHOLDS), "audio"))
    print(f"\nWPM {got['wpm']} vs truth {truth['wpm']}; user {got['user_wpm']} vs {truth['user_wpm']}")
    assert abs(got["wpm"] - truth["wpm"]) <= 0.10 * truth["wpm"]
    assert abs(got["user_wpm"] - truth["user_wpm"]) <= 0.10 * truth["user_wpm"]


def _stereo(call, tmp_path) -> str:
    path = tmp_path / "call.wav"
    path.write_bytes(cg.wav_bytes(call))
    return str(path)


def test_a_missing_model_fails_clearly(tmp_path):
    with pytest.raises(TranscriberUnavailable, match="no CTranslate2 Whisper model"):
        model_path(str(tmp_path))
    assert model_path("bundled").endswith("model")


# ---- the remote engine, against a local OpenAI-compatible transcription server ----------------

def test_remote_engine_sends_each_channel_and_reads_word_times(tmp_path):
    channel = tmp_path / "channel0.wav"
    channel.write_bytes(cg.wav_bytes(cg.SynthCall(np.zeros((1, 16000), np.float32), 16000, {}, [])))
    with FakeTranscriptionServer() as fake:
        words = OpenAITranscriber(fake.base_url, "k-1", "whisper-large", 5).transcribe(str(channel))
    assert [(w.text, w.start, w.end) for w in words] == [("hello", 0.5, 0.9), ("there", 1.0, 1.3)]
    path, auth, body = fake.requests[0]
    assert path == "/v1/audio/transcriptions" and auth == "Bearer k-1"
    for field in (b'name="model"', b"whisper-large", b"verbose_json", b'name="timestamp_granularities[]"', b"RIFF"):
        assert field in body


@pytest.mark.parametrize("status, transient", [(500, True), (429, True), (400, False), (401, False)])
def test_remote_engine_errors_say_whether_to_retry(tmp_path, status, transient):
    channel = tmp_path / "channel0.wav"
    channel.write_bytes(b"RIFF")
    with FakeTranscriptionServer(status) as fake, pytest.raises(StageFailure) as failure:
        OpenAITranscriber(fake.base_url, "", "m", 5).transcribe(str(channel))
    assert failure.value.transient is transient


# ---- voice_tone_clarity -----------------------------------------------------------------------

def clarity_of(call: cg.SynthCall, tmp_path) -> dict:
    paths = spill(call, tmp_path)
    voice = measure_ai_voice(paths[0], call.truth["ai"])
    return REGISTRY["voice_tone_clarity"](MetricInput(None, None, "inbound", {}, voice=voice))


@pytest.fixture(scope="module")
def clarity(tmp_path_factory):
    base = cg.voice_call()
    other_text = cg.voice_call(ai_lines=list(reversed(cg.VOICE_AI_LINES)))
    variants = {"clean": base, "noisy": cg.with_noise(base, -25), "telephone": cg.with_telephone_line(base),
                "quieter": cg.louder(base, -12), "same_voice_other_call": other_text}
    return {name: clarity_of(call, tmp_path_factory.mktemp(name)) for name, call in variants.items()}


def test_clarity_ranks_clean_above_noisy_and_telephone(clarity):
    print("\n" + ", ".join(f"{k} {v['score']}" for k, v in clarity.items()))
    assert clarity["clean"]["score"] >= clarity["noisy"]["score"] + 0.5
    assert clarity["clean"]["score"] >= clarity["telephone"]["score"] + 0.5
    assert min(v["score"] for v in clarity.values()) >= 1 and max(v["score"] for v in clarity.values()) <= 5
    # the reasons come along: the telephone line's bandwidth, the noisy line's SNR
    assert clarity["telephone"]["bandwidth_hz"] < 3600 and clarity["noisy"]["snr_db"] < clarity["clean"]["snr_db"] - 6


def test_clarity_is_stable_and_level_independent(clarity):
    assert abs(clarity["clean"]["score"] - clarity["same_voice_other_call"]["score"]) <= 0.25
    assert abs(clarity["clean"]["score"] - clarity["quieter"]["score"]) <= 0.1


# ---- voice_change_detection -------------------------------------------------------------------

def voice_change(call: cg.SynthCall, tmp_path) -> dict:
    paths = spill(call, tmp_path)
    voice = measure_ai_voice(paths[0], call.truth["ai"])
    return REGISTRY["voice_change_detection"](MetricInput(None, None, "inbound", dict(DEFAULT_THRESHOLDS), voice=voice))


@pytest.mark.parametrize("after", [3, 5, 7])
@pytest.mark.parametrize("noise", [None, -25])
def test_a_voice_switch_is_found_at_its_utterance(tmp_path, after, noise):
    call = cg.voice_call(switch_after=after)
    result = voice_change(cg.with_noise(call, noise) if noise else call, tmp_path)
    assert result["detected"] and result["count"] == 1, result
    assert abs(result["changes"][0]["utterance"] - (after + 1)) <= 1
    switch_start = call.truth["ai"][after][0]
    assert abs(result["changes"][0]["at_second"] - switch_start) < 10


@pytest.mark.parametrize("noise", [None, -25])
def test_the_same_voice_throughout_is_no_change(tmp_path, noise):
    call = cg.voice_call()
    result = voice_change(cg.with_noise(call, noise) if noise else call, tmp_path)
    assert not result["detected"] and result["changes"] == [], result


def test_a_line_turning_telephone_band_is_a_line_change_not_a_voice_change(tmp_path):
    call = cg.voice_call()
    from_second = call.truth["ai"][5][0] - 0.3
    result = voice_change(cg.with_telephone_line(call, from_second, channels=(0,)), tmp_path)
    assert not result["detected"], result
    assert [c["line_change"] for c in result["line_changes"]] == ["bandwidth"]
