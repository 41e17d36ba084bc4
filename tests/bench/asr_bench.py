"""Benchmark of the whole analysis of a recording-only call, transcription included (prints
figures; not a test).

    python tests/bench/asr_bench.py [repeats of the 10-utterance voice call]

Builds a stereo 16 kHz call from tests/support/callgen.py (espeak-ng voices, ~1 min per repeat),
then times each part as calls.audio_metrics runs them, in one process on this machine:
decode + speech activity (+ channel spill), transcription of each channel (local engine, the
bundled tiny.en model, CALLSCOPE_ASR_THREADS=2), AI voice measurements (DNSMOS + per-utterance
features) — each alone, then the two overlapped as the stage runs them — and every standard
metric. Reports × realtime for each and for the whole as the stage runs it, and the process's
peak RSS.
"""
from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.catalogue import DEFAULT_THRESHOLDS, STANDARD_KEYS
from tests.support import callgen as cg
from workers.asr.local import WhisperTranscriber
from workers.asr.transcript import build_transcript
from workers.audio.activity import VadParams
from workers.audio.analysis import analyse_recording
from workers.audio.spill import ChannelSpill
from workers.audio.voice import measure_ai_voice, warm_up
from workers.metrics.inputs import MetricInput, from_transcript
from workers.metrics.registry import compute
from workers.stages.audio import transcribe_and_measure


def long_call(repeats: int) -> cg.SynthCall:
    parts = [cg.voice_call(), cg.voice_call(ai_lines=list(reversed(cg.VOICE_AI_LINES)))]
    audio = np.concatenate([parts[i % 2].audio for i in range(repeats)], axis=1)
    return cg.SynthCall(audio, cg.RATE, {}, [])


def main(repeats: int) -> None:
    call = long_call(repeats)
    seconds = call.audio.shape[1] / call.rate
    transcriber = WhisperTranscriber("bundled", threads=int(os.environ.get("CALLSCOPE_ASR_THREADS", "2")))
    t = time.perf_counter()
    warm_up()
    print(f"one-time per worker process: voice models warm-up {time.perf_counter() - t:.1f} s "
          "(done at worker_process_init, before the first call)")
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "call.wav")
        Path(path).write_bytes(cg.wav_bytes(call))
        timings = {}
        started = time.perf_counter()
        spill = ChannelSpill(workdir)
        analysis = analyse_recording(path, "left", None, VadParams(), spill)
        timings["decode + speech activity + spill"] = time.perf_counter() - started
        t = time.perf_counter()
        ai_words, user_words = transcriber.transcribe_channels(spill.paths[:2], [list(analysis.speech.ai),
                                                                                 list(analysis.speech.user)])
        timings["transcription, both channels at once"] = time.perf_counter() - t
        words = {"ai": ai_words, "user": user_words}
        generated = build_transcript(words)
        t = time.perf_counter()
        voice = measure_ai_voice(spill.paths[0], list(analysis.speech.ai))
        timings["voice measurements (DNSMOS + features)"] = time.perf_counter() - t
        # as calls.audio_metrics runs them: the voice measurements beside the transcription
        t = time.perf_counter()
        overlapped = transcribe_and_measure(SimpleNamespace(transcriber=transcriber), analysis, spill.paths[:2],
                                            True, True)
        timings["transcription + voice, overlapped (the stage)"] = time.perf_counter() - t
        assert overlapped[0] and overlapped[1] is None and overlapped[2]["clarity"]
        t = time.perf_counter()
        data = MetricInput(analysis.speech, from_transcript(generated, "inbound", dict(DEFAULT_THRESHOLDS)).words,
                           "inbound", dict(DEFAULT_THRESHOLDS), "audio", voice=voice, generated=generated)
        outcomes = {key: compute(key, data) for key in STANDARD_KEYS}
        timings["all standard metrics"] = time.perf_counter() - t
        as_run = ("decode + speech activity + spill", "transcription + voice, overlapped (the stage)",
                  "all standard metrics")
        total = sum(timings[name] for name in as_run)
    speech = {p: sum(e - s for s, e in getattr(analysis.speech, p)) for p in ("ai", "user")}
    print(f"recording-only stereo 16 kHz call: {seconds:.0f} s (AI speaks {speech['ai']:.0f} s, user {speech['user']:.0f} s), "
          f"{sum(len(w) for w in words.values())} words transcribed")
    for name, elapsed in timings.items():
        print(f"  {name:<42} {elapsed:6.2f} s  {seconds / elapsed:7.1f}× realtime")
    print(f"  {'whole analysis, as the stage runs it':<42} {total:6.2f} s  {seconds / total:7.1f}× realtime "
          "(decode + overlapped + metrics; target ≥ 20×)")
    print(f"  peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"metrics computed: {sum(o.status == 'computed' for o in outcomes.values())}/{len(outcomes)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
