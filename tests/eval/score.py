"""Scoring one measured call against its truth: every figure the held-out table reports.

Both sides go through the same metric functions (workers/metrics), so a difference is the
engine's, never the metric's. Events are paired by time (nearest, within PAIR_S) before values
are compared; what stays unpaired counts as missed (in the truth only) or extra (measured only).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.catalogue import DEFAULT_THRESHOLDS
from workers.metrics.inputs import MetricInput
from workers.metrics.registry import REGISTRY
from workers.metrics.timeline import Speech, make_speech

PAIR_S = 0.5
TURN_METRICS = ("latency_ms", "user_interruptions", "ai_interruptions", "stop_time_after_interruption",
                "silence_detection", "talk_ratio", "time_to_first_word_ms")


def metrics(speech: Speech) -> dict:
    data = MetricInput(speech=speech, words=None, call_direction="inbound", thresholds=dict(DEFAULT_THRESHOLDS),
                       source="audio")
    return {key: REGISTRY[key](data) for key in TURN_METRICS}


def pair(want: list[float], have: list[float], window: float = PAIR_S) -> tuple[list[tuple[int, int]], int, int]:
    """Greedy nearest pairing of two sorted time lists: (pairs of indices, missed, extra)."""
    candidates = sorted((abs(w - h), i, j) for i, w in enumerate(want) for j, h in enumerate(have)
                        if abs(w - h) <= window)
    used_w, used_h, pairs = set(), set(), []
    for _, i, j in candidates:
        if i not in used_w and j not in used_h:
            used_w.add(i)
            used_h.add(j)
            pairs.append((i, j))
    return sorted(pairs), len(want) - len(pairs), len(have) - len(pairs)


@dataclass
class Score:
    latency_errors: list[float] = field(default_factory=list)
    missed_turns: int = 0
    extra_turns: int = 0
    missed_interruptions: int = 0
    phantom_interruptions: int = 0
    interruptions_typed: int = 0
    interruptions_typed_right: int = 0
    stop_errors: list[float] = field(default_factory=list)
    silence_edge_errors: list[float] = field(default_factory=list)
    missed_silences: int = 0
    extra_silences: int = 0
    talk_ratio_errors: list[float] = field(default_factory=list)
    ttfw_errors: list[float] = field(default_factory=list)
    start_errors: list[float] = field(default_factory=list)    # segment edges (diagnostics)
    end_errors: list[float] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)


def _events(result, key: str) -> list[dict]:
    return result.get(key, []) if isinstance(result, dict) else []


def edge_errors(truth: list[tuple[float, float]], measured: list[tuple[float, float]]) -> tuple[list, list]:
    """Start and end errors (ms) of measured segments paired with the truth segment they overlap most."""
    starts, ends = [], []
    for s, e in truth:
        best = max(measured, key=lambda m: min(e, m[1]) - max(s, m[0]), default=None)
        if best is not None and min(e, best[1]) > max(s, best[0]):
            starts.append((best[0] - s) * 1000)
            ends.append((best[1] - e) * 1000)
    return starts, ends


def score_call(truth: dict[str, list], measured: Speech, label: str = "") -> Score:
    want, have = metrics(make_speech(truth["ai"], truth["user"])), metrics(measured)
    out = Score()
    w_rows, h_rows = _events(want["latency_ms"], "turns"), _events(have["latency_ms"], "turns")
    pairs, missed, extra = pair([r["at_second"] for r in w_rows], [r["at_second"] for r in h_rows])
    out.latency_errors = [h_rows[j]["latency_ms"] - w_rows[i]["latency_ms"] for i, j in pairs]
    out.missed_turns, out.extra_turns = missed, extra
    if missed or extra:
        out.details.append(f"{label} turns missed {missed} extra {extra}")
    for key in ("user_interruptions", "ai_interruptions"):
        w_ev, h_ev = _events(want[key], "interruptions"), _events(have[key], "interruptions")
        pairs, missed, extra = pair([e["at_second"] for e in w_ev], [e["at_second"] for e in h_ev])
        out.missed_interruptions += missed
        out.phantom_interruptions += extra
        out.interruptions_typed += len(pairs)
        out.interruptions_typed_right += sum(w_ev[i]["type"] == h_ev[j]["type"] for i, j in pairs)
        if missed or extra:
            out.details.append(f"{label} {key}: truth {[(e['at_second'], e['type']) for e in w_ev]} "
                               f"measured {[(e['at_second'], e['type']) for e in h_ev]}")
        for i, j in pairs:
            if w_ev[i]["type"] != h_ev[j]["type"]:
                out.details.append(f"{label} {key} at {w_ev[i]['at_second']}: {w_ev[i]} measured {h_ev[j]}")
    w_st, h_st = _events(want["stop_time_after_interruption"], "events"), _events(have["stop_time_after_interruption"], "events")
    pairs, _, _ = pair([e["at_second"] for e in w_st], [e["at_second"] for e in h_st])
    out.stop_errors = [h_st[j]["stop_time_ms"] - w_st[i]["stop_time_ms"] for i, j in pairs]
    for i, j in pairs:
        if abs(h_st[j]["stop_time_ms"] - w_st[i]["stop_time_ms"]) > 100:
            out.details.append(f"{label} stop time at {w_st[i]['at_second']}: {w_st[i]['stop_time_ms']} ms, "
                               f"measured {h_st[j]['stop_time_ms']} ms")
    for channel in ("ai_channel", "user_channel"):
        w_si = want["silence_detection"][channel]["events"] if isinstance(want["silence_detection"], dict) else []
        h_si = have["silence_detection"][channel]["events"] if isinstance(have["silence_detection"], dict) else []
        pairs, missed, extra = pair([e["at_second"] for e in w_si], [e["at_second"] for e in h_si])
        out.missed_silences += missed
        out.extra_silences += extra
        if missed or extra:
            out.details.append(f"{label} silence {channel}: truth {w_si} measured {h_si}")
        for i, j in pairs:
            w_e, h_e = w_si[i], h_si[j]
            out.silence_edge_errors += [(h_e["at_second"] - w_e["at_second"]) * 1000,
                                        (h_e["at_second"] + h_e["duration_ms"] / 1000
                                         - w_e["at_second"] - w_e["duration_ms"] / 1000) * 1000]
    if isinstance(have["talk_ratio"], dict) and isinstance(want["talk_ratio"], dict):
        out.talk_ratio_errors = [have["talk_ratio"]["ratio"] - want["talk_ratio"]["ratio"]]
    if isinstance(have["time_to_first_word_ms"], dict):
        out.ttfw_errors = [have["time_to_first_word_ms"]["ms"] - want["time_to_first_word_ms"]["ms"]]
    for party in ("ai", "user"):
        starts, ends = edge_errors(truth[party], list(measured.of(party)))
        out.start_errors += starts
        out.end_errors += ends
    return out


def summarise(score: Score) -> dict:
    lat = np.array(score.latency_errors, float)

    def mae(values):
        return float(np.mean(np.abs(values))) if len(values) else float("nan")

    return {
        "latencies": len(lat),
        "latency MAE ms": mae(lat),
        "bias ms": float(lat.mean()) if len(lat) else float("nan"),
        "p95 |err| ms": float(np.percentile(np.abs(lat), 95)) if len(lat) else float("nan"),
        "missed/extra turns": f"{score.missed_turns}/{score.extra_turns}",
        "missed/phantom intr": f"{score.missed_interruptions}/{score.phantom_interruptions}",
        "type acc %": (100 * score.interruptions_typed_right / score.interruptions_typed
                       if score.interruptions_typed else float("nan")),
        "stop MAE ms": mae(score.stop_errors),
        "silence edge max ms": float(np.max(np.abs(score.silence_edge_errors))) if score.silence_edge_errors else 0.0,
        "missed/extra silences": f"{score.missed_silences}/{score.extra_silences}",
        "talk ratio max err": float(np.max(np.abs(score.talk_ratio_errors))) if score.talk_ratio_errors else float("nan"),
        "ttfw max err ms": float(np.max(np.abs(score.ttfw_errors))) if score.ttfw_errors else float("nan"),
        "start med ms": float(np.median(score.start_errors)) if score.start_errors else float("nan"),
        "end med ms": float(np.median(score.end_errors)) if score.end_errors else float("nan"),
    }


def passes(summary: dict) -> list[str]:
    """The targets a condition misses (empty when it meets them all)."""
    misses = []
    for key, limit in (("latency MAE ms", 25), ("p95 |err| ms", 60), ("stop MAE ms", 40),
                       ("silence edge max ms", 100), ("talk ratio max err", 0.02), ("ttfw max err ms", 50)):
        if summary[key] == summary[key] and summary[key] > limit:
            misses.append(key)
    if summary["bias ms"] == summary["bias ms"] and abs(summary["bias ms"]) > 15:
        misses.append("bias")
    if summary["type acc %"] == summary["type acc %"] and summary["type acc %"] < 98:
        misses.append("type acc")
    for key in ("missed/extra turns", "missed/phantom intr"):
        if summary[key] != "0/0":
            misses.append(key)
    return misses
