"""Platform-reported latency next to the latency measured in the call (docs/metrics.md#reported-next-to-measured).

Pure functions over plain data: what a platform said about its own turns (kept by the
integration in `metadata.platform`) and the `latency_ms` result. Platforms time a turn from
their own events (end of speech detected → first audio byte sent); the recording hears the
caller stop and the agent start, so the gap between the two is what the platform does not
see: endpointing, network and playback.
"""
from __future__ import annotations

from statistics import median
from typing import Any


def _ms_list(values: Any) -> list[float] | None:
    """All of `values` as floats, or None when it is not a list of numbers."""
    if not isinstance(values, list):
        return None
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return numbers if numbers and len(numbers) == len(values) else None


def _vapi(platform: dict) -> tuple[str, list[float]] | None:
    metrics = platform.get("performance_metrics")
    if not isinstance(metrics, dict) or not isinstance(metrics.get("turnLatencies"), list):
        return None
    values = _ms_list([t.get("turnLatency") for t in metrics["turnLatencies"] if isinstance(t, dict)])
    return ("vapi performanceMetrics.turnLatencies[].turnLatency", values) if values else None


def _retell(platform: dict) -> tuple[str, list[float]] | None:
    latency = platform.get("latency")
    e2e = latency.get("e2e") if isinstance(latency, dict) else None
    values = _ms_list(e2e.get("values")) if isinstance(e2e, dict) else None
    return ("retell latency.e2e.values", values) if values else None


def _elevenlabs(platform: dict) -> tuple[str, list[float]] | None:
    """ElevenLabs reports per-turn component timings (seconds): their sum per agent turn."""
    sums = []
    for turn in platform.get("turn_metrics") or []:
        metrics = turn.get("metrics") if isinstance(turn, dict) and turn.get("role") == "agent" else None
        if not isinstance(metrics, dict):
            continue
        parts = [m.get("elapsed_time") for m in metrics.values() if isinstance(m, dict)]
        seconds = [p for p in parts if isinstance(p, (int, float)) and not isinstance(p, bool)]
        if seconds:
            sums.append(sum(seconds) * 1000)
    return ("elevenlabs conversation_turn_metrics (sum per agent turn)", sums) if sums else None


_READERS = {"vapi": _vapi, "retell": _retell, "elevenlabs": _elevenlabs}


def reported_turn_latencies(platform: dict) -> tuple[str, list[float]] | None:
    """(what was read, one latency in ms per answered turn) from `metadata.platform`, or None."""
    reader = _READERS.get(str(platform.get("name")))
    return reader(platform) if reader else None


def compare_latency(measured: dict, source: str, reported: list[float]) -> dict:
    """The reported latencies beside the measured turns. Turns are matched in order, and only
    when both sides count the same answered turns (otherwise which pairs belong together is a
    guess, and only the averages are compared). gap = measured − reported."""
    rows = measured.get("turns") or []
    summary: dict[str, Any] = {"reported_average_ms": round(sum(reported) / len(reported)),
                               "measured_average_ms": measured.get("average_ms")}
    if summary["measured_average_ms"] is not None:
        summary["average_gap_ms"] = summary["measured_average_ms"] - summary["reported_average_ms"]
    result: dict[str, Any] = {"source": source, "reported_turns": len(reported), "measured_turns": len(rows),
                              "matched_by": "none", "turns": [], "summary": summary}
    if rows and len(rows) == len(reported):
        pairs = [{"turn": row["turn"], "at_second": row.get("at_second"), "measured_ms": row["latency_ms"],
                  "reported_ms": round(value), "gap_ms": row["latency_ms"] - round(value)}
                 for row, value in zip(rows, reported)]
        gaps = [p["gap_ms"] for p in pairs]
        result.update(matched_by="order", turns=pairs)
        summary.update(median_gap_ms=round(median(gaps)), max_gap_ms=max(gaps), min_gap_ms=min(gaps),
                       turns_measured_slower=sum(1 for g in gaps if g > 0))
    return result
