"""Each channel of a decoded recording written to its own 16 kHz mono 16-bit WAV, while it
streams past the speech detector: transcription and voice analysis read those files (one
decode per call; memory stays flat, disk holds ~115 MB per channel-hour)."""
from __future__ import annotations

import os
import wave

import numpy as np

RATE = 16000


class ChannelSpill:
    def __init__(self, directory: str):
        self.directory = directory
        self.paths: list[str] = []
        self._writers: list[wave.Wave_write] = []

    def write(self, block: np.ndarray) -> None:
        """`block`: (channels, samples) float32 at 16 kHz."""
        while len(self._writers) < block.shape[0]:
            path = os.path.join(self.directory, f"channel{len(self._writers)}.wav")
            writer = wave.open(path, "wb")  # noqa: SIM115 - held open across blocks, closed by close()
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(RATE)
            self._writers.append(writer)
            self.paths.append(path)
        for channel, writer in enumerate(self._writers):
            writer.writeframes((np.clip(block[channel], -1, 1) * 32767).astype("<i2").tobytes())

    def close(self) -> None:
        for writer in self._writers:
            writer.close()


def read_span(path: str, start: float, end: float) -> np.ndarray:
    """Samples [start, end) seconds of a spilled channel, as float32."""
    with wave.open(path, "rb") as reader:
        first = max(0, int(start * RATE))
        count = max(0, min(reader.getnframes(), int(end * RATE)) - first)
        reader.setpos(min(first, reader.getnframes()))
        return np.frombuffer(reader.readframes(count), dtype="<i2").astype(np.float32) / 32768
