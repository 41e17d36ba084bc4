"""Small recordings generated in the tests (no downloads): WAV via the standard library, MP3 and
M4A encoded with PyAV."""
from __future__ import annotations

import io
import math
import struct
import wave

import av
import numpy as np


def wav_bytes(seconds: float = 2.0, rate: int = 16000, channels: int = 2) -> bytes:
    """A stereo WAV: a 440 Hz tone on the left, 660 Hz on the right (16-bit PCM)."""
    frames = int(seconds * rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        samples = []
        for i in range(frames):
            for ch in range(channels):
                samples.append(int(8000 * math.sin(2 * math.pi * (440 + 220 * ch) * i / rate)))
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return buf.getvalue()


def encoded_bytes(fmt: str, seconds: float = 2.0, rate: int = 16000) -> bytes:
    """MP3 (`mp3`) or AAC in MP4 (`m4a`), stereo."""
    codec, container_fmt = {"mp3": ("libmp3lame", "mp3"), "m4a": ("aac", "ipod")}[fmt]
    buf = io.BytesIO()
    with av.open(buf, "w", format=container_fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        t = np.arange(int(seconds * rate)) / rate
        pcm = (np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 660 * t)]) * 0.3).astype(np.float32)
        for start in range(0, pcm.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, start:start + 1024]), format="fltp",
                                               layout="stereo")
            frame.sample_rate = rate
            frame.pts = start  # explicit timestamps keep the encoder delay out of the timeline
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()
