"""The local engine's speech track: a channel's detected speech joined into clips of at most
30 s, and word times mapped back onto the channel (workers/asr/local.py)."""
import wave

import numpy as np
import pytest

from workers.asr.local import MAX_CLIP_S, PAD_S, PAUSE_S, _share_out, speech_track
from workers.audio.spill import RATE


def channel(tmp_path, seconds: float) -> str:
    """A mono 16 kHz WAV of a 200 Hz tone (only lengths and times are checked here)."""
    t = np.arange(int(seconds * RATE)) / RATE
    path = tmp_path / "channel.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.sin(2 * np.pi * 200 * t) * 8000).astype("<i2").tobytes())
    return str(path)


def test_pieces_are_padded_joined_and_mapped_back(tmp_path):
    track = speech_track(channel(tmp_path, 60), [(10.0, 12.0), (12.3, 13.0), (40.0, 41.0)])
    # the first two merge once padded; each piece keeps where it came from on the channel
    assert [(round(j, 3), round(c, 3), round(n, 3)) for j, c, n in track.pieces] == [
        (0.0, 10.0 - PAD_S, 3.0 + 2 * PAD_S), (3.0 + 2 * PAD_S + PAUSE_S, 40.0 - PAD_S, 1.0 + 2 * PAD_S)]
    assert len(track.audio) == pytest.approx((3.0 + 2 * PAD_S + PAUSE_S + 1.0 + 2 * PAD_S + PAUSE_S) * RATE, abs=2)
    second = track.pieces[1][0]
    assert track.to_channel(0.25, 1.0) == (10.0, 10.75)                 # inside the first piece
    assert track.to_channel(second + 0.25, second + 0.5) == (40.0, 40.25)  # inside the second
    # a last word stretched over the pause into the next piece ends where its piece ends
    assert track.to_channel(3.0, second + 0.4) == (12.75, 13.25)
    # a word starting in the pause goes to the nearer piece
    assert track.to_channel(second - 0.2 * PAUSE_S, second + 0.2) == (39.75, 39.95)
    assert track.to_channel(second - 0.8 * PAUSE_S, second - 0.1 * PAUSE_S) == (13.25, 13.25)
    assert track.clips == [(0.0, pytest.approx(second + 1.0 + 2 * PAD_S))]  # one clip: < 30 s in all


def test_clips_never_exceed_the_window_and_cut_between_pieces(tmp_path):
    segments = [(s, s + 4.0) for s in np.arange(1, 281, 7.0)]  # 4 s of speech every 7 s
    track = speech_track(channel(tmp_path, 300), segments)
    assert all(end - start <= MAX_CLIP_S + 1e-6 for start, end in track.clips)
    edges = {round(j, 3) for j, _, _ in track.pieces} | {round(j + n, 3) for j, _, n in track.pieces}
    assert all(round(start, 3) in edges and round(end, 3) in edges for start, end in track.clips)
    speech = sum(n for _, _, n in track.pieces)
    assert speech == pytest.approx(len(segments) * (4.0 + 2 * PAD_S), abs=0.01)


def test_a_monologue_longer_than_a_clip_is_cut(tmp_path):
    track = speech_track(channel(tmp_path, 100), [(5.0, 80.0)])
    assert len(track.clips) == 3 and all(end - start <= MAX_CLIP_S + 1e-6 for start, end in track.clips)
    joined, start, _ = track.pieces[2]
    assert track.to_channel(joined + 1.0, joined + 1.5) == (round(start + 1.0, 3), round(start + 1.5, 3))


def test_no_speech_is_an_empty_track(tmp_path):
    track = speech_track(channel(tmp_path, 5), [])
    assert (len(track.audio), track.pieces, track.clips) == (0, [], [])


def test_work_is_shared_out_evenly_whoever_spoke_more(tmp_path):
    path = channel(tmp_path, 300)
    talker = speech_track(path, [(s, s + 6.0) for s in np.arange(0, 290, 8.0)])   # ~8 clips
    listener = speech_track(path, [(s, s + 2.0) for s in np.arange(0, 290, 30.0)])  # ~1 clip
    jobs = _share_out([talker, listener], workers=2)
    assert sorted(c for job in jobs for c in job[1]) == sorted(talker.clips + listener.clips)
    loads = [0.0, 0.0]
    for _, clips in jobs:  # handed to whichever of two threads is free, the largest first
        loads[loads.index(min(loads))] += sum(end - start for start, end in clips)
    assert max(loads) <= 1.35 * min(loads), loads
