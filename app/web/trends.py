"""An agent's trends as small hand-drawn SVG line charts: pure geometry from the daily rows of
app/service/dashboard.py#agent_trends (docs/dashboard.md#the-agent-page)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

WIDTH, HEIGHT = 560, 190
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 28


@dataclass
class Series:
    name: str
    css: str
    path: str = ""
    dots: list[tuple[float, float, str]] = field(default_factory=list)


@dataclass
class Chart:
    title: str
    unit: str
    series: list[Series]
    y_ticks: list[tuple[float, str]]
    x_ticks: list[tuple[float, str]]
    empty: bool
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= value)


def _fmt(value: float, unit: str) -> str:
    if unit == "%":
        return f"{value:.0%}"
    if unit == "ms":
        return f"{value:,.0f} ms"
    return f"{value:.2g}" if value < 10 else f"{value:,.0f}"


def _days(period: tuple[datetime, datetime]) -> list[date]:
    first, end = period[0].date(), period[1].date()
    return [first + timedelta(days=i) for i in range((end - first).days)]


def line_chart(title: str, unit: str, days: list[date], series: list[tuple[str, str, dict[date, float | None]]],
               fixed_max: float | None = None) -> Chart:
    """One chart: x is every day of the period (a day without data breaks the line), y starts at 0."""
    values = [v for _, _, points in series for v in points.values() if v is not None]
    top_value = fixed_max or _nice_max(max(values, default=0))
    span_x = max(1, len(days) - 1)

    def x(i: int) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * i / span_x, 1)

    def y(v: float) -> float:
        return round(HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * v / top_value, 1)

    drawn = []
    for name, css, points in series:
        s = Series(name, css)
        pen_down = False
        for i, day in enumerate(days):
            v = points.get(day)
            if v is None:
                pen_down = False
                continue
            s.path += f"{'L' if pen_down else 'M'}{x(i)},{y(v)} "
            s.dots.append((x(i), y(v), f"{day.isoformat()}: {name} {_fmt(v, unit)}"))
            pen_down = True
        s.path = s.path.strip()
        drawn.append(s)
    y_ticks = [(y(top_value * k / 4), _fmt(top_value * k / 4, unit)) for k in range(5)]
    step = max(1, math.ceil(len(days) / 6))
    x_ticks = [(x(i), day.strftime("%b %d")) for i, day in enumerate(days) if i % step == 0]
    return Chart(title, unit, drawn, y_ticks, x_ticks, empty=not values)


def _column(rows: list[dict], key: str) -> dict[date, float | None]:
    return {r["day"]: (float(r[key]) if r.get(key) is not None else None) for r in rows}


def build_charts(trends: dict, period: tuple[datetime, datetime]) -> list[Chart]:
    days, rows = _days(period), trends["days"]
    charts = [
        line_chart("Response latency (every answered turn)", "ms", days,
                   [("p50", "s-p50", _column(rows, "p50_ms")), ("p95", "s-p95", _column(rows, "p95_ms"))]),
        line_chart("Interruptions per call", "", days,
                   [("caller", "s-user", _column(rows, "user_interruptions")),
                    ("AI", "s-ai", _column(rows, "ai_interruptions"))]),
        line_chart("Silences per call", "", days, [("silences", "s-silence", _column(rows, "silences"))]),
        line_chart("Talk ratio (AI share of talk time)", "%", days,
                   [("talk ratio", "s-ai", _column(rows, "talk_ratio"))], fixed_max=1.0),
        line_chart("Call success rate", "%", days, [("success", "s-pass", _column(rows, "success_rate"))],
                   fixed_max=1.0),
        line_chart("Computed calls per day", "", days, [("calls", "s-calls", _column(rows, "calls"))]),
    ]
    by_metric: dict[int, list[dict]] = {}
    for r in trends["custom"]:
        if r["day"] is not None:
            by_metric.setdefault(r["metric_id"], []).append(r)
    for metric_rows in by_metric.values():
        charts.append(line_chart(f"Pass rate: {metric_rows[0]['name']}", "%", days,
                                 [("pass rate", "s-pass", _column(metric_rows, "pass_rate"))], fixed_max=1.0))
    return charts


# (label, key, unit, lower is better)
_COMPARED = (
    ("Computed calls", "calls", "", None),
    ("Latency p50", "p50_ms", "ms", True),
    ("Latency p95", "p95_ms", "ms", True),
    ("Caller interruptions per call", "user_interruptions", "", True),
    ("AI interruptions per call", "ai_interruptions", "", True),
    ("Silences per call", "silences", "", True),
    ("Talk ratio", "talk_ratio", "%", None),
    ("Call success rate", "success_rate", "%", False),
)


def _delta(now, before, unit: str, lower_better: bool | None) -> tuple[str, str]:
    if now is None or before is None:
        return "—", ""
    change = float(now) - float(before)
    shown = f"{change:+.0%}" if unit == "%" else f"{change:+,.0f} ms" if unit == "ms" else f"{change:+.2f}"
    if lower_better is None or abs(change) < 1e-9:
        return shown, ""
    return shown, "better" if (change < 0) == lower_better else "worse"


def comparison_rows(trends: dict) -> list[dict]:
    """The two periods side by side: value now, value then, change and whether it is better."""
    now, before = trends["totals"], trends["compare_totals"] or {}
    rows = []
    for label, key, unit, lower_better in _COMPARED:
        delta, verdict = _delta(now.get(key), before.get(key), unit, lower_better)
        rows.append({"label": label, "now": _value(now.get(key), unit), "before": _value(before.get(key), unit),
                     "delta": delta, "verdict": verdict})
    for r in trends["custom"]:
        if r["day"] is None:
            then = trends["custom_compare"].get(r["metric_id"], {}).get("pass_rate")
            delta, verdict = _delta(r["pass_rate"], then, "%", False)
            rows.append({"label": f"Pass rate: {r['name']}", "now": _value(r["pass_rate"], "%"),
                         "before": _value(then, "%"), "delta": delta, "verdict": verdict})
    return rows


def _value(value, unit: str) -> str:
    return "—" if value is None else _fmt(float(value), unit)
