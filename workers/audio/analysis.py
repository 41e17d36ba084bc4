"""From a recording file to who spoke when: per-channel speech segments, the AI's channel, and
(for mono recordings) attribution by the transcript's timings. Pure of the database and app.

Channel roles (docs/metrics.md#speech-activity): `left` / `right` are taken as said. `auto` matches each channel's
speech against the transcript's timed AI and user turns and picks the channel that sounds
like the AI; without a timed transcript it falls back to `left` and says so. The decision and
its confidence are part of the result.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from workers.audio.activity import ChannelTrack, VadParams, channel_segments, stereo_segments
from workers.audio.decode import RATE_DEFAULT, DecodeError, decode_blocks
from workers.audio.spill import ChannelSpill
from workers.metrics.timeline import AI, USER, Segment, Speech, intersection, make_speech, normalise, total

SPEAKERS = {"AI Assistant": AI, "User": USER}


@dataclass(frozen=True)
class SpeechAnalysis:
    speech: Speech | None          # None: cannot attribute speech (mono without timed transcript)
    channels: int
    duration_seconds: float
    ai_channel: str | None         # left | right | mono
    ai_channel_source: str         # setting | auto | default | transcript
    confidence: float | None
    channel_segments: list[list[Segment]]
    skip_reason: str | None = None

    def as_dict(self) -> dict:
        return {
            "channels": self.channels,
            "duration_seconds": round(self.duration_seconds, 3),
            "ai_channel": self.ai_channel,
            "ai_channel_source": self.ai_channel_source,
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "segments": ({"ai": [list(s) for s in self.speech.ai], "user": [list(s) for s in self.speech.user]}
                         if self.speech else None),
            "channel_segments": [[list(s) for s in channel] for channel in self.channel_segments],
            "skip_reason": self.skip_reason,
        }


def timed_turns(transcript: list[dict] | None) -> dict[str, list[Segment]] | None:
    """AI and user intervals of a transcript whose spoken turns are all timed; else None."""
    spoken = [t for t in transcript or () if t.get("role") in SPEAKERS]
    if not spoken or any(t.get("start_time") is None or t.get("end_time") is None for t in spoken):
        return None
    turns: dict[str, list[Segment]] = {AI: [], USER: []}
    for t in spoken:
        turns[SPEAKERS[t["role"]]].append((float(t["start_time"]), float(t["end_time"])))
    return {party: list(normalise(segs)) for party, segs in turns.items()}


def track_channels(path: str, spill: ChannelSpill | None = None) -> tuple[list[ChannelTrack], float]:
    """Stream the file once through one tracker per channel (and into `spill`, if given);
    returns (tracks, seconds decoded)."""
    tracks: list[ChannelTrack] = []
    samples = 0
    # the channels' detectors run in two threads (Silero's calls release the GIL): 2.0 → 1.6 s for a
    # 4-min stereo call on 2 cores
    with ThreadPoolExecutor(max_workers=2) as pool:
        for block in decode_blocks(path, rate=RATE_DEFAULT):
            while len(tracks) < block.shape[0]:
                tracks.append(ChannelTrack())
            fed = [pool.submit(track.feed, block[channel]) for channel, track in enumerate(tracks)]
            if spill is not None:
                spill.write(block)
            for done in fed:
                done.result()
            samples += block.shape[1]
    if spill is not None:
        spill.close()
    if samples == 0:
        raise DecodeError("No audio could be decoded.")
    return tracks, samples / RATE_DEFAULT


def choose_ai_channel(left: list[Segment], right: list[Segment], turns: dict[str, list[Segment]] | None,
                      setting: str) -> tuple[int, str, float | None]:
    """(index of the AI channel, how it was decided, confidence 0–1 or None)."""
    if setting in ("left", "right"):
        return (0 if setting == "left" else 1), "setting", None
    if turns is None:
        return 0, "default", None
    score = []
    for channel in (left, right):
        chan = tuple(channel)
        score.append(intersection(chan, tuple(turns[AI])) - intersection(chan, tuple(turns[USER])))
    spoken = total(tuple(left)) + total(tuple(right))
    if spoken == 0:
        return 0, "default", None
    chosen = 0 if score[0] >= score[1] else 1
    return chosen, "auto", min(1.0, abs(score[0] - score[1]) / spoken)


def attribute_mono(segments: list[Segment], turns: dict[str, list[Segment]]) -> Speech:
    """Split one channel's speech between the parties by the transcript's turn timings."""
    parts: dict[str, list[Segment]] = {AI: [], USER: []}
    for start, end in segments:
        for party in (AI, USER):
            for t_start, t_end in turns[party]:
                lo, hi = max(start, t_start), min(end, t_end)
                if hi > lo:
                    parts[party].append((lo, hi))
    return make_speech(parts[AI], parts[USER])


def analyse_recording(path: str, ai_channel: str, transcript: list[dict] | None,
                      params: VadParams, spill: ChannelSpill | None = None) -> SpeechAnalysis:
    """Decode, detect speech per channel and assign roles; with `spill`, each channel is also
    written to a 16 kHz mono WAV for transcription and voice analysis. Raises DecodeError if
    nothing decodes."""
    tracks, duration = track_channels(path, spill)
    turns = timed_turns(transcript)
    if len(tracks) >= 2:
        left, right = stereo_segments(tracks[0], tracks[1], params)
        index, source, confidence = choose_ai_channel(left, right, turns, ai_channel)
        ai, user = (left, right) if index == 0 else (right, left)
        return SpeechAnalysis(make_speech(ai, user), 2, duration, ("left", "right")[index], source, confidence,
                              [left, right])
    mono = channel_segments(tracks[0], params) if tracks else []
    if turns is None:
        return SpeechAnalysis(None, len(tracks), duration, None, "transcript", None, [mono],
                              skip_reason="mono_without_timed_transcript")
    return SpeechAnalysis(attribute_mono(mono, turns), 1, duration, "mono", "transcript", None, [mono])
