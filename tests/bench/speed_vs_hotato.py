"""Speed against the open-source peer `hotato`, on the same 10-minute stereo call in the same
run: wall time of one whole analysis each, as a fresh process (start-up, decode and model load
included — hotato's ffmpeg decode of the MP3 too), repeated and the median taken.

    bash tests/bench/speed_vs_hotato.sh       # installs hotato into .venv-hotato (not a dependency)

Ours is `analyse_recording` plus every turn-taking metric (what the audio stage computes before
transcription and voice); hotato's is `hotato autopsy FILE --format json`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OURS = """
import sys
from tests.eval.score import metrics
from workers.audio.activity import VadParams
from workers.audio.analysis import analyse_recording
analysis = analyse_recording(sys.argv[1], "left", None, VadParams())
metrics(analysis.speech)
"""


def timed(cmd: list[str], cwd: str, env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, env=env)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hotato", default=str(ROOT / ".venv-hotato" / "bin" / "hotato"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=41)
    args = parser.parse_args()
    from tests.eval import conditions as cond
    from tests.eval.corpus import build_call

    call = build_call(args.seed, minutes=10.0)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    print(f"call: report seed {args.seed}, {call.seconds / 60:.1f} min stereo; median of {args.repeats} runs, wall s")
    with tempfile.TemporaryDirectory() as tmp:
        for label, condition in (("16 kHz WAV", "wav-16k"), ("8 kHz MP3 24 kbit/s", "mp3-8k-24kbps")):
            data, suffix, _ = cond.apply(call.audio, cond.BY_NAME[condition], args.seed, set())
            path = os.path.join(tmp, f"call.{suffix}")
            Path(path).write_bytes(data)
            ours, theirs = [], []
            for _ in range(args.repeats):  # interleaved, so both see the same machine load
                ours.append(timed([sys.executable, "-c", OURS, path], tmp, env))
                theirs.append(timed([args.hotato, "autopsy", path, "--format", "json"], tmp))
            o, t = statistics.median(ours), statistics.median(theirs)
            print(f"{label:22s} callscope {o:6.2f} s ({call.seconds / o:4.0f}x realtime)   hotato {t:6.2f} s "
                  f"({call.seconds / t:4.0f}x realtime)   callscope speed / hotato speed = {t / o:.2f}")


if __name__ == "__main__":
    main()
