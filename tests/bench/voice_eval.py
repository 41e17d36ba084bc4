"""Voice-change detection on the evaluation corpus (report seeds unless told), three groups:

- single voice: one AI voice all call long, under every line condition in turn — any detected
  voice change is a false alarm;
- voice switch: the AI changes to another corpus voice (sometimes of the same engine) part-way —
  a hit is a voice change reported within ±1 utterance of the switch;
- line change: one voice, but from mid-call the AI's line turns narrowband (8 kHz MP3), 10 dB
  quieter or noisy — a voice change reported there is a false alarm (a line change is right).

    python tests/bench/voice_eval.py [--set tuning] [--calls 20] [--speech recorded]

With `--speech recorded` the calls are people's recorded prompts (tests/eval/voices.py), and a
switch goes to another of the recorded speakers.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.catalogue import DEFAULT_THRESHOLDS  # noqa: E402
from tests.eval import conditions as cond  # noqa: E402
from tests.eval.corpus import REPORT_SEEDS, TUNING_SEEDS, build_call  # noqa: E402
from tests.eval.voices import RATE  # noqa: E402
from workers.audio.activity import VadParams  # noqa: E402
from workers.audio.analysis import analyse_recording  # noqa: E402
from workers.audio.decode import decode_blocks  # noqa: E402
from workers.audio.spill import ChannelSpill  # noqa: E402
from workers.audio.voice import measure_ai_voice  # noqa: E402
from workers.metrics.inputs import MetricInput  # noqa: E402
from workers.metrics.voice import voice_change_detection  # noqa: E402

LINE_CHANGES = ("narrowband", "quieter", "noisier")


def changed_line(audio: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The AI channel from mid-call on through another line."""
    out = audio.copy()
    half = audio.shape[1] // 2
    tail = out[0, half:]
    if kind == "narrowband":
        coded, _ = cond.encode(np.stack([tail, tail]), "mp3-16k")
        with tempfile.NamedTemporaryFile(suffix=".mp3") as tmp:
            tmp.write(coded)
            tmp.flush()
            decoded = np.concatenate(list(decode_blocks(tmp.name, rate=RATE)), axis=1)[0]
        tail = np.pad(decoded, (0, max(0, len(tail) - len(decoded))))[:len(tail)]
    elif kind == "quieter":
        tail = tail * np.float32(10 ** (-10 / 20))
    else:
        tail = tail + rng.standard_normal(len(tail)).astype(np.float32) * np.float32(10 ** (-38 / 20))
    out[0, half:] = tail
    return out


def detect(audio_bytes: bytes, suffix: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"call.{suffix}")
        Path(path).write_bytes(audio_bytes)
        spill = ChannelSpill(tmp)
        analysis = analyse_recording(path, "left", None, VadParams(), spill)
        voice = measure_ai_voice(spill.paths[0], list(analysis.speech.ai))
    data = MetricInput(analysis.speech, None, "inbound", dict(DEFAULT_THRESHOLDS), "audio", voice=voice)
    result = voice_change_detection(data)
    return {"result": result if isinstance(result, dict) else None, "utterances": voice["utterances"]}


def run(job: tuple[str, int, str, bool]) -> tuple[str, str, bool, str]:
    """(group, condition, correct?, note)."""
    group, seed, name, recorded = job
    rng = np.random.default_rng(seed)
    call = build_call(seed, switch_voice=(group == "switch"), recorded=recorded)
    audio = call.audio
    if group == "line":
        data, suffix = cond.encode(changed_line(audio, name, rng), "wav16")
    else:
        data, suffix, _ = cond.apply(audio, cond.BY_NAME[name], seed, set(call.voices.values()))
    found = detect(data, suffix)
    result = found["result"]
    changes = result["changes"] if result else []
    if group != "switch":
        return group, name, not changes, f"seed {seed} {call.voices}: {changes}"
    starts = [u["at_second"] for u in found["utterances"]]
    truth_index = int(np.searchsorted(starts, call.switch_at - 0.05))
    hit = any(abs((c["utterance"] - 1) - truth_index) <= 1 for c in changes)
    return group, name, hit, f"seed {seed} {call.voices} switch at utterance {truth_index + 1}: {changes}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=("report", "tuning"), default="report")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--speech", choices=("synthetic", "recorded"), default="synthetic")
    args = parser.parse_args()
    recorded = args.speech == "recorded"
    seeds = list(REPORT_SEEDS if args.set == "report" else TUNING_SEEDS)[:args.calls]
    names = [c.name for c in cond.CONDITIONS]
    jobs = [("single", s, names[i % len(names)], recorded) for i, s in enumerate(seeds)]
    jobs += [("switch", s, names[(i * 7) % len(names)], recorded) for i, s in enumerate(seeds)]
    jobs += [("line", s, LINE_CHANGES[i % len(LINE_CHANGES)], recorded) for i, s in enumerate(seeds)]
    tallies: dict[str, list[bool]] = {}
    notes = []
    with ProcessPoolExecutor(max_workers=2) as pool:
        for group, name, ok, note in pool.map(run, jobs):
            tallies.setdefault(group, []).append(ok)
            if not ok:
                notes.append(f"{group} [{name}] {note}")
    print(f"# voice change, {args.speech} speech, {args.set} seeds ({len(seeds)} calls a group)")
    single, switch, line = tallies.get("single", []), tallies.get("switch", []), tallies.get("line", [])
    print(f"single voice: {single.count(False)} false alarms in {len(single)} calls")
    print(f"voice switch: {switch.count(True)} hits, {switch.count(False)} misses in {len(switch)} calls")
    print(f"line change:  {line.count(False)} reported as a voice change in {len(line)} calls")
    if args.details:
        print("\n".join(notes))


if __name__ == "__main__":
    main()
