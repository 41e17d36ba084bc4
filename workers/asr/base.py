"""The transcriber role and what it returns."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from workers.failure import StageFailure


@dataclass(frozen=True)
class Word:
    start: float   # seconds from the start of the channel
    end: float
    text: str


class TranscriberUnavailable(RuntimeError):
    """The engine cannot run as configured (missing model, bad setting): raised at worker start."""


def transcription_failure(message: str, transient: bool = False) -> StageFailure:
    """One channel could not be transcribed: `transcription_unavailable` when a retry may help
    (429, 5xx, timeouts), else `transcription_failed` (a rejected key, a broken engine)."""
    return StageFailure("transcription_unavailable" if transient else "transcription_failed", message, transient)


class Transcriber(Protocol):
    name: str

    def transcribe(self, wav_path: str) -> list[Word]:
        """Timed words of one mono 16 kHz WAV channel. Raises StageFailure (transcription_failure)."""

    def transcribe_channels(self, wav_paths: list[str], speech: list[list[tuple[float, float]]] | None = None
                            ) -> list[list[Word]]:
        """Each channel's words (an engine may work on them at once). `speech`: each channel's
        detected speech segments in seconds, which an engine may use to skip the silence."""
