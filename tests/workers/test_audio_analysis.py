"""Channel roles, mono recordings and degenerate audio: honest results, never invented events."""
from __future__ import annotations

import numpy as np
import pytest

from tests.support import callgen as cg
from workers.audio.activity import VadParams
from workers.audio.analysis import analyse_recording
from workers.audio.decode import DecodeError

pytestmark = pytest.mark.skipif(not cg.espeak_available(), reason="espeak-ng is installed by deploy/test.sh")

STEPS = [
    ("say", "ai", 0.0, "Hello this is the booking line how can I help"),
    ("say", "user", 0.6, "I would like to book a table for two tonight"),
    ("say", "ai", 0.8, "Certainly what time would you like"),
    ("say", "user", 0.7, "Around eight please"),
]


@pytest.fixture(scope="module")
def call():
    return cg.render(cg.build_lines(STEPS))


def transcript_of(call, swap=False):
    roles = {"ai": "AI Assistant", "user": "User"}
    return [{"role": roles[line.party], "content": line.text, "start_time": s, "end_time": e}
            for party in ("ai", "user") for line, (s, e) in zip([x for x in call.lines if x.party == party],
                                                              call.truth[party])]


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_fixed_channel_setting(call, tmp_path):
    swapped = cg.SynthCall(call.audio[::-1].copy(), call.rate, call.truth, call.lines)
    path = write(tmp_path, "swapped.wav", cg.wav_bytes(swapped))
    result = analyse_recording(path, "right", None, VadParams())
    assert result.ai_channel == "right" and result.ai_channel_source == "setting"
    assert abs(result.speech.ai[0][0] - call.truth["ai"][0][0]) < 0.03


def test_auto_channel_from_timed_transcript(call, tmp_path):
    swapped = cg.SynthCall(call.audio[::-1].copy(), call.rate, call.truth, call.lines)
    path = write(tmp_path, "swapped.wav", cg.wav_bytes(swapped))
    result = analyse_recording(path, "auto", transcript_of(call), VadParams())
    assert result.ai_channel == "right" and result.ai_channel_source == "auto"
    assert result.confidence > 0.8
    plain = analyse_recording(write(tmp_path, "plain.wav", cg.wav_bytes(call)), "auto", transcript_of(call), VadParams())
    assert plain.ai_channel == "left" and plain.confidence > 0.8


def test_auto_without_timed_transcript_falls_back_to_left(call, tmp_path):
    result = analyse_recording(write(tmp_path, "a.wav", cg.wav_bytes(call)), "auto", None, VadParams())
    assert result.ai_channel == "left" and result.ai_channel_source == "default" and result.confidence is None


def test_mono_with_timed_transcript_is_attributed_by_timings(call, tmp_path):
    mono = cg.SynthCall(call.audio.sum(axis=0, keepdims=True), call.rate, call.truth, call.lines)
    result = analyse_recording(write(tmp_path, "m.wav", cg.wav_bytes(mono)), "left", transcript_of(call), VadParams())
    assert result.channels == 1 and result.ai_channel == "mono"
    assert len(result.speech.ai) == 2 and len(result.speech.user) == 2
    for got, want in zip(result.speech.user, call.truth["user"]):
        assert abs(got[0] - want[0]) < 0.05 and abs(got[1] - want[1]) < 0.05


def test_mono_without_timed_transcript_is_skipped(call, tmp_path):
    mono = cg.SynthCall(call.audio.sum(axis=0, keepdims=True), call.rate, call.truth, call.lines)
    result = analyse_recording(write(tmp_path, "m.wav", cg.wav_bytes(mono)), "left", None, VadParams())
    assert result.speech is None and result.skip_reason == "mono_without_timed_transcript"


def test_silent_and_dead_channel_calls_invent_nothing(call, tmp_path):
    silent = cg.SynthCall(np.zeros_like(call.audio), call.rate, call.truth, call.lines)
    result = analyse_recording(write(tmp_path, "s.wav", cg.wav_bytes(silent)), "left", None, VadParams())
    assert result.speech.ai == () and result.speech.user == ()
    noisy_silence = cg.with_noise(silent, -40)
    result = analyse_recording(write(tmp_path, "n.wav", cg.wav_bytes(noisy_silence)), "left", None, VadParams())
    assert result.speech.ai == () and result.speech.user == ()
    dead_user = cg.SynthCall(np.stack([call.audio[0], np.zeros_like(call.audio[1])]), call.rate, call.truth, call.lines)
    result = analyse_recording(write(tmp_path, "d.wav", cg.wav_bytes(dead_user)), "left", None, VadParams())
    assert len(result.speech.ai) == 2 and result.speech.user == ()


def test_truncated_recording_is_analysed_up_to_its_end(call, tmp_path):
    data = cg.encoded_bytes(call, "mp3")
    path = write(tmp_path, "t.mp3", data[: len(data) // 2])
    result = analyse_recording(path, "left", None, VadParams())
    assert 0 < result.duration_seconds < call.audio.shape[1] / call.rate
    assert result.speech.ai and result.speech.ai[0][0] == pytest.approx(call.truth["ai"][0][0], abs=0.05)


def test_nothing_decodable_raises(tmp_path):
    with pytest.raises(DecodeError):
        analyse_recording(write(tmp_path, "x.wav", b"RIFF\x24\x00\x00\x00WAVEjunk"), "left", None, VadParams())


def test_first_words_of_a_quiet_call_are_heard(tmp_path):
    """The detector's state starts cold: on a quiet line (the caller 14 dB under the agent, the call
    peaking at −30 dBFS) the caller's "okay" during the greeting, the first sound on its channel,
    was lost and the first turn found 200 ms late; the same words later in a call are found. The
    windows before a channel's first confident speech are re-scored by a detector primed on that
    speech, so both are found where they are (docs/metrics.md#speech-activity)."""
    steps = [("say", "ai", 0.0, "Good morning thank you for calling the pharmacy refill line how can I help you"),
             ("backchannel", "user", 1.4, "okay"),
             ("say", "user", 0.7, "Hi I need a refill of my blood pressure tablets please")]
    call = cg.render(cg.build_lines(steps))
    audio = call.audio.copy()
    audio[1] *= np.float32(10 ** (-14 / 20))
    audio *= np.float32(10 ** (-30 / 20) / np.abs(audio).max())
    quiet = cg.SynthCall(audio, call.rate, call.truth, call.lines)
    result = analyse_recording(write(tmp_path, "quiet.wav", cg.wav_bytes(quiet)), "left", None, VadParams())
    assert len(result.speech.user) == len(call.truth["user"]) == 2
    for found, true in zip(result.speech.user, call.truth["user"]):
        assert abs(found[0] - true[0]) < 0.05 and abs(found[1] - true[1]) < 0.05
    assert abs(result.speech.ai[0][0] - call.truth["ai"][0][0]) < 0.03


def test_a_silent_other_line_does_not_make_a_monologue_background_talk():
    """Background talk is measured where the other party holds the floor
    (docs/metrics.md#speech-activity, step 3). A party talking all call long over a silent other
    line (a voicemail, a muted caller) has no such frames, so its own speech must not become the
    'noise' its edges are judged against."""
    from workers.audio.activity import _background_talk_ceiling, other_party_speaks

    rng = np.random.default_rng(0)
    speech = (-20 + 6 * rng.standard_normal(6000)).astype(np.float32)   # a minute of loud speech frames
    silent_other = np.full(6000, -120.0, np.float32)
    speaks = other_party_speaks(silent_other, [])
    assert not speaks.any()
    assert _background_talk_ceiling([(0.0, 60.0)], speech, speaks, VadParams()) is None
    # while a real other party speaks, the same line's level there is the ceiling
    other = np.where(np.arange(6000) % 1000 < 500, -18.0, -120.0).astype(np.float32)
    ceiling = _background_talk_ceiling([(0.0, 60.0)], speech, other_party_speaks(other, [(0.0, 60.0)]), VadParams())
    assert ceiling is not None and -20 < ceiling < -10
