"""The held-out accuracy evaluation: the whole corpus (tests/eval) through the audio engine, one
table per condition. Not part of the test run (tests/workers/test_heldout_accuracy.py runs a
slice of it with asserts).

    python tests/bench/accuracy_eval.py                 # report seeds: the figures we quote
    python tests/bench/accuracy_eval.py --set tuning    # tuning seeds: what the engine may be tuned on
    python tests/bench/accuracy_eval.py --conditions wav-16k,babble --calls 10 --details
    python tests/bench/accuracy_eval.py --speech recorded   # people's recorded prompts, not TTS

Each call of the set is rendered once and evaluated under `--per-call` conditions (rotating
through the list, so every condition gets calls of every length). Needs espeak-ng, flite,
festival and the festvox voices (apt); `--speech recorded` needs the Asterisk prompt sets
(apt, tests/eval/voices.py names them).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.eval import conditions as cond  # noqa: E402
from tests.eval.corpus import REPORT_SEEDS, TUNING_SEEDS, build_call  # noqa: E402
from tests.eval.score import Score, passes, score_call, summarise  # noqa: E402
from workers.audio.activity import VadParams  # noqa: E402
from workers.audio.analysis import analyse_recording  # noqa: E402


def evaluate(seed: int, names: list[str], params: dict | None = None,
             recorded: bool = False) -> list[tuple[str, Score, float, float]]:
    call = build_call(seed, recorded=recorded)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            condition = cond.BY_NAME[name]
            data, suffix, _ = cond.apply(call.audio, condition, seed, set(call.voices.values()))
            path = os.path.join(tmp, f"call.{suffix}")
            Path(path).write_bytes(data)
            started = time.process_time()
            analysis = analyse_recording(path, "left", None, VadParams(**(params or {})))
            cpu = time.process_time() - started
            results.append((name, score_call(call.truth, analysis.speech, f"seed {seed} [{name}]"), call.seconds, cpu))
    return results


def plan(seeds: list[int], names: list[str], per_call: int) -> dict[int, list[str]]:
    return {seed: [names[(i * per_call + j) % len(names)] for j in range(min(per_call, len(names)))]
            for i, seed in enumerate(seeds)}


def fmt(value) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else (f"{value:.3f}" if abs(value) < 1 else f"{value:.0f}")
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", choices=("report", "tuning"), default="report")
    parser.add_argument("--conditions", default="")
    parser.add_argument("--calls", type=int, default=0)
    parser.add_argument("--per-call", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--speech", choices=("synthetic", "recorded"), default="synthetic")
    parser.add_argument("--param", action="append", default=[], help="a VadParams field=value, for tuning runs")
    args = parser.parse_args()
    seeds = list(REPORT_SEEDS if args.set == "report" else TUNING_SEEDS)
    if args.calls:
        seeds = seeds[:args.calls]
    names = args.conditions.split(",") if args.conditions else [c.name for c in cond.CONDITIONS]
    jobs = plan(seeds, names, args.per_call)
    totals: dict[str, Score] = {name: Score() for name in names}
    audio_s = cpu_s = 0.0
    started = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        params = {k: type(getattr(VadParams(), k))(v) for k, v in (p.split("=", 1) for p in args.param)}
        for results in pool.map(evaluate, jobs.keys(), jobs.values(), [params] * len(jobs),
                                [args.speech == "recorded"] * len(jobs)):
            for name, score, seconds, cpu in results:
                totals[name].add(score)
                audio_s += seconds
                cpu_s += cpu
    print(f"# {args.speech} speech, {args.set} seeds {seeds[0]}–{seeds[-1]} ({len(seeds)} calls, {sum(map(len, jobs.values()))} "
          f"evaluations, {audio_s / 60:.0f} min of audio; analysis {audio_s / cpu_s:.0f}x realtime per core; "
          f"wall {time.time() - started:.0f} s)")
    columns = ["latencies", "latency MAE ms", "bias ms", "p95 |err| ms", "missed/extra turns", "missed/phantom intr",
               "type acc %", "stop MAE ms", "silence edge max ms", "missed/extra silences", "talk ratio max err",
               "ttfw max err ms", "start med ms", "end med ms"]
    print("| condition | " + " | ".join(columns) + " | misses |")
    print("|---" * (len(columns) + 2) + "|")
    overall = Score()
    for name in names:
        overall.add(totals[name])
        summary = summarise(totals[name])
        print(f"| {name} | " + " | ".join(fmt(summary[c]) for c in columns) + f" | {', '.join(passes(summary)) or '—'} |")
    summary = summarise(overall)
    print("| **all** | " + " | ".join(fmt(summary[c]) for c in columns) + f" | {', '.join(passes(summary)) or '—'} |")
    if args.details:
        for name in names:
            for line in totals[name].details:
                print(line)


if __name__ == "__main__":
    main()
