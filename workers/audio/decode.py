"""Streaming decode of a recording into fixed-rate float32 blocks, one row per channel.

Only one block is alive at a time, so memory stays bounded whatever the call's length. FFmpeg
(PyAV) trims encoder delay and padding of MP3 (LAME/Xing info) and M4A (edit lists), so sample
n of the output is at n / rate seconds in the call, for compressed files as for WAV.
"""
from __future__ import annotations

from collections.abc import Iterator

import av
import numpy as np

from workers.audio.probe import DEMUXERS, FORMATS_TEXT, sniff_format

RATE_DEFAULT = 16000  # what the voice activity detector runs at


class DecodeError(Exception):
    """The audio stops decoding part-way (code `undecodable_audio` when nothing was decoded)."""


def decode_blocks(path: str, rate: int = RATE_DEFAULT, block_seconds: float = 10.0) -> Iterator[np.ndarray]:
    """Yield blocks of shape (channels ≤ 2, n) float32 in [-1, 1] at `rate` Hz, in call order.

    A truncated file yields what decodes and stops; mono stays one row, more than two channels
    keep the first two. Raises DecodeError if the container cannot be opened at all.
    """
    with open(path, "rb") as f:
        kind = sniff_format(f.read(16))
    if kind is None:
        raise DecodeError(f"not {FORMATS_TEXT}")
    try:
        container = av.open(path, format=DEMUXERS[kind], metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise DecodeError(str(exc)) from None
    with container:
        stream = container.streams.audio[0]
        channels = min(2, stream.codec_context.channels or 1)
        resampler = av.AudioResampler(format="fltp", layout="stereo" if channels == 2 else "mono", rate=rate)
        pending: list[np.ndarray] = []
        pending_samples, block = 0, int(rate * block_seconds)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray())
                    pending_samples += out.samples
                if pending_samples >= block:
                    yield np.concatenate(pending, axis=1)
                    pending, pending_samples = [], 0
        except (av.FFmpegError, ValueError, EOFError):
            pass  # a truncated or damaged tail: keep what decoded, the call is analysed up to there
        for out in resampler.resample(None):
            pending.append(out.to_ndarray())
        if pending:
            yield np.concatenate(pending, axis=1)
