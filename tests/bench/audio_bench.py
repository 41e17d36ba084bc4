"""Audio analysis benchmark (not part of the test run): decode + speech activity + every
standard metric on a 10-minute stereo call, as × realtime on one core, and the peak memory of
analysing a 60-minute stereo call (16 kHz, 16-bit WAV: the largest common case).

    python tests/bench/audio_bench.py            # needs espeak-ng (deploy/test.sh installs it)

The calls are the synthetic reference conversation (tests/support/callgen.py) repeated.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from app.catalogue import DEFAULT_THRESHOLDS  # noqa: E402
from tests.support import callgen as cg  # noqa: E402
from workers.audio.activity import VadParams  # noqa: E402
from workers.audio.analysis import analyse_recording  # noqa: E402
from workers.metrics.inputs import MetricInput  # noqa: E402
from workers.metrics.registry import REGISTRY, compute  # noqa: E402


def write_long_call(path: Path, minutes: float) -> float:
    """Repeat the reference call (with its gaps) into a stereo 16 kHz WAV, streaming to disk."""
    base = cg.render(cg.build_lines(cg.STANDARD_STEPS))
    pcm = (np.clip(base.audio.T, -1, 1) * 32767).astype("<i2")
    target = int(minutes * 60 * base.rate)
    written = 0
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(base.rate)
        while written < target:
            chunk = pcm[: target - written]
            w.writeframes(chunk.tobytes())
            written += len(chunk)
    return written / base.rate


def analyse(path: str) -> tuple[float, dict]:
    started = time.process_time()
    analysis = analyse_recording(path, "left", None, VadParams())
    data = MetricInput(analysis.speech, None, "inbound", dict(DEFAULT_THRESHOLDS), "audio")
    results = {key: compute(key, data) for key in REGISTRY}
    return time.process_time() - started, results


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--memory-child":
        seconds, results = analyse(sys.argv[2])
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{peak_mb:.0f} {seconds:.1f} {results['latency_ms'].result_data['average_ms']}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        ten = Path(tmp) / "ten.wav"
        audio_seconds = write_long_call(ten, 10)
        cpu, results = analyse(str(ten))
        turns = len(results["latency_ms"].result_data["turns"])
        print(f"10-min stereo 16 kHz WAV: {audio_seconds:.0f} s of audio analysed in {cpu:.2f} s CPU "
              f"= {audio_seconds / cpu:.0f}x realtime on one core ({turns} latencies measured)")
        for fmt in ("mp3", "m4a"):
            base = cg.render(cg.build_lines(cg.STANDARD_STEPS))
            tiled = cg.SynthCall(np.tile(base.audio, 15), base.rate, base.truth, base.lines)
            encoded = Path(tmp) / f"ten.{fmt}"
            encoded.write_bytes(cg.encoded_bytes(tiled, fmt))
            cpu, _ = analyse(str(encoded))
            seconds = tiled.audio.shape[1] / tiled.rate
            print(f"10-min stereo 16 kHz {fmt.upper()}: {seconds / cpu:.0f}x realtime on one core")
        hour = Path(tmp) / "hour.wav"
        audio_seconds = write_long_call(hour, 60)
        out = subprocess.run([sys.executable, __file__, "--memory-child", str(hour)], capture_output=True,
                             text=True, check=True).stdout.split()
        print(f"60-min stereo 16 kHz WAV ({hour.stat().st_size / 1e6:.0f} MB): peak RSS {out[0]} MB, "
              f"{float(out[1]):.1f} s CPU = {audio_seconds / float(out[1]):.0f}x realtime")


if __name__ == "__main__":
    main()
