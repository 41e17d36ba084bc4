"""Benchmark of the custom-metric judges (prints figures; not a test).

    python tests/bench/judges_bench.py [runs] [concurrent calls]

1. Code judge: cost of one metric run — the whole judge (dialect check, a fresh bubblewrap box
   with its namespaces and seccomp filter, `python -I -S` in it, the run, the checks), the box
   process alone, and the same runner in a bare `python -I -S` process with the same rlimits
   (what the process cost before the box) — for a trivial metric and one that walks a 200-turn
   transcript, interleaved run by run so all three see the same load.
   `python tests/bench/judges_bench.py 50 8 code` measures only this part.
2. LLM judge: calls judged per second against the local fake OpenAI-compatible server with a
   simulated 100 ms model latency, N calls at once (as N worker processes would), 3 metrics a
   call — batched, and with the per-metric fallback the provider forces by refusing batches.
"""
from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.fake_llm import FakeLLM
from workers.judges.code import judge_code
from workers.judges.llm import OpenAIJudge
from workers.judges.sandbox import _RUNNER, MAX_OUTPUT_BYTES, Sandbox, SandboxConfig

TRANSCRIPT = [{"role": "AI Assistant" if i % 2 else "User", "content": f"turn number {i} with some words",
               "start_time": i * 3.0, "end_time": i * 3.0 + 2.2} for i in range(200)]
CONTEXT = {"call": {"id": 1}, "transcript": TRANSCRIPT, "standard_metrics": {"latency_ms": {"average_ms": 800}},
           "llm_metrics": {}, "duration_seconds": 600.0}
TRIVIAL = 'metric["result"] = 1\nmetric["explanation"] = "x"'
WALK = ('ai = [t for t in context["transcript"] if t["role"] == "AI Assistant"]\n'
        'words = sum(len(t["content"].split()) for t in ai)\n'
        'metric["result"] = round(words / sum(t["end_time"] - t["start_time"] for t in ai) * 60, 1)\n'
        'metric["explanation"] = f"{words} AI words"')
METRICS = [{"metric_id": i, "name": f"M{i}", "result_type": "boolean", "prompt": "Was it fine?"} for i in (1, 2, 3)]


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def bare_run(python: str, payload: bytes) -> None:
    """The same runner in a plain confined process without the box: what a run cost before it."""
    def limits() -> None:
        for limit, value in ((resource.RLIMIT_CPU, 6), (resource.RLIMIT_AS, 256 << 20), (resource.RLIMIT_FSIZE, 0)):
            resource.setrlimit(limit, (value, value))

    done = subprocess.run([python, "-I", "-S", "-B", "-c", _RUNNER, str(MAX_OUTPUT_BYTES)], env={}, input=payload,
                          capture_output=True, preexec_fn=limits, check=True)
    assert json.loads(done.stdout)["ok"]


def code_overhead(runs: int) -> None:
    sandbox = Sandbox(SandboxConfig())
    sandbox.verify()
    for label, code in (("trivial", TRIVIAL), ("200-turn walk", WALK)):
        metric = {"metric_id": 1, "result_type": "numeric", "code": code}
        payload = json.dumps({"code": code, "context": CONTEXT}).encode()
        series: dict[str, list[float]] = {"judge run": [], "box process": [], "bare process": []}
        for _ in range(runs):  # interleaved, so all three see the same load
            series["judge run"].append(timed(lambda m=metric: judge_code(sandbox, m, CONTEXT)))
            series["box process"].append(timed(lambda p=payload: sandbox.execute(_RUNNER, p)))
            series["bare process"].append(timed(lambda p=payload: bare_run(sandbox.python, p)))
        assert judge_code(sandbox, metric, CONTEXT).status == "computed"
        for name, times in series.items():
            times.sort()
            print(f"code judge [{name:12}] {label:14}: mean {statistics.mean(times):5.1f} ms, "
                  f"p50 {times[len(times) // 2]:5.1f} ms, p95 {times[int(len(times) * 0.95)]:5.1f} ms "
                  f"({runs} runs, python {sandbox.python})")
        added = statistics.mean(series["box process"]) - statistics.mean(series["bare process"])
        print(f"code judge  the box adds {added:5.1f} ms to a run ({label})")


def llm_throughput(calls: int, concurrency: int) -> None:
    answers = {m["name"]: (True, "fine") for m in METRICS}
    for refuse in (False, True):
        with FakeLLM(answers=answers, delay=0.1, refuse_structured=refuse) as llm:
            judge = OpenAIJudge(llm.base_url, "", "bench", timeout=10, concurrency=4, max_retries=0)
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=concurrency) as pool:
                verdicts = list(pool.map(lambda _, judge=judge: judge.judge(TRANSCRIPT[:40], METRICS), range(calls)))
            elapsed = time.perf_counter() - started
            assert all(v.status == "computed" for vs in verdicts for v in vs.values())
            mode = "per-metric fallback" if refuse else "batched"
            print(f"llm judge [{mode:19}]: {calls} calls × {len(METRICS)} metrics, {concurrency} at once: "
                  f"{calls / elapsed:6.1f} calls/s, {len(llm.requests) / elapsed:6.1f} requests/s, "
                  f"{len(llm.requests)} requests (fake model latency 100 ms)")


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    code_overhead(runs)
    if sys.argv[3:4] != ["code"]:
        llm_throughput(calls=200, concurrency=concurrency)
