"""The call timeline and the agent charts are pure: what the dashboard draws from a call view."""
from __future__ import annotations

from datetime import UTC, date, datetime

from app.web.timeline import build_timeline
from app.web.trends import comparison_rows, line_chart

RESULTS = [
    {"metric_key": "latency_ms", "status": "computed", "result_data": {
        "turns": [{"turn": 3, "latency_ms": 850, "at_second": 5.0}]}},
    {"metric_key": "user_interruptions", "status": "computed", "result_data": {
        "count": 2, "interruptions": [{"at_second": 7.5, "duration_ms": 600, "type": "barge_in"},
                                      {"at_second": 9.0, "duration_ms": 300, "type": "backchannel"}]}},
    {"metric_key": "ai_interruptions", "status": "computed", "result_data": {"count": 0, "interruptions": []}},
    {"metric_key": "silence_detection", "status": "computed", "result_data": {
        "ai_channel": {"count": 1, "total_ms": 2500, "events": [{"at_second": 11.0, "duration_ms": 2500}]},
        "user_channel": {"count": 0, "total_ms": 0, "events": []}}},
    {"metric_key": "stop_time_after_interruption", "status": "computed", "result_data": {
        "events": [{"at_second": 7.5, "stop_time_ms": 700}]}},
    {"metric_key": "talk_ratio", "status": "failed", "result_data": None},
]


def test_marks_come_from_the_results_at_their_times():
    speech = {"duration_seconds": 20.0, "segments": {"ai": [[0.5, 4.0], [5.0, 8.2]], "user": [[1.0, 4.15], [7.5, 9.4]]}}
    timeline = build_timeline({"speech": speech, "results": RESULTS, "transcript": None})
    assert timeline.source == "audio" and timeline.duration == 20.0
    assert timeline.segments["ai"] == [(0.5, 4.0), (5.0, 8.2)]
    latency = next(m for m in timeline.marks if m.kind == "latency")
    assert (latency.start, latency.end, latency.label) == (4.15, 5.0, "850 ms")
    barge, backchannel = (m for m in timeline.marks if m.kind == "interruption")
    assert (barge.lane, barge.variant, barge.seek, barge.label) == ("user", "barge_in", 7.5, "barge-in")
    assert backchannel.variant == "backchannel" and round(backchannel.end, 3) == 9.3
    stop = next(m for m in timeline.marks if m.kind == "stop_time")
    assert (stop.start, round(stop.end, 3)) == (7.5, 8.2)
    assert [m.kind for m in timeline.marks].count("silence") == 1
    assert [m.start for m in timeline.marks] == sorted(m.start for m in timeline.marks)


def test_without_audio_the_transcript_times_are_the_lanes_and_tool_turns_are_kept_as_text():
    transcript = [{"role": "AI Assistant", "content": "Hi", "start_time": 0.0, "end_time": 1.0},
                  {"role": "Function Call", "content": "", "data": {"id": "t1", "name": "lookup"}},
                  {"role": "User", "content": "Hello", "start_time": 1.4, "end_time": 2.5}]
    timeline = build_timeline({"speech": None, "results": [], "transcript": transcript,
                               "transcript_source": "provided", "generated_transcript": None})
    assert timeline.source == "transcript" and timeline.duration == 2.5
    assert timeline.segments == {"ai": [(0.0, 1.0)], "user": [(1.4, 2.5)]}
    assert [t.party for t in timeline.turns["provided"]] == ["ai", None, "user"]
    assert timeline.turns["provided"][1].text == '{"name": "lookup"}'  # a tool turn shows its call
    assert "generated" not in timeline.turns


def test_a_call_with_nothing_timed_yet_has_an_empty_timeline():
    timeline = build_timeline({"speech": None, "results": [], "transcript": [{"role": "User", "content": "hi"}],
                               "transcript_source": "provided"})
    assert timeline.source == "none" and timeline.duration == 0 and timeline.pixels_per_second == 1.0


def test_a_chart_breaks_its_line_on_days_without_data():
    days = [date(2026, 1, d) for d in (1, 2, 3, 4)]
    chart = line_chart("latency", "ms", days, [("p50", "s", {days[0]: 400.0, days[1]: 500.0, days[3]: 800.0})])
    assert chart.series[0].path.count("M") == 2 and chart.series[0].path.count("L") == 1
    assert chart.y_ticks[-1][1] == "1,000 ms"  # a round top above the largest value
    assert not chart.empty and len(chart.series[0].dots) == 3


def test_comparison_says_which_way_is_better():
    trends = {"totals": {"calls": 10, "p50_ms": 700, "success_rate": 0.9}, "compare_totals": {
        "calls": 8, "p50_ms": 900, "success_rate": 0.95}, "custom": [], "custom_compare": {}}
    rows = {r["label"]: r for r in comparison_rows(trends)}
    assert rows["Latency p50"]["delta"] == "-200 ms" and rows["Latency p50"]["verdict"] == "better"
    assert rows["Call success rate"]["verdict"] == "worse"
    assert rows["Computed calls"]["verdict"] == ""
    assert rows["Latency p95"]["delta"] == "—"


def test_periods_default_to_the_last_thirty_days_and_refuse_backwards_ranges():
    from app.web.forms import parse_periods

    periods = parse_periods({}, today=date(2026, 3, 31))
    assert periods.period == (datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    assert periods.compare is None
    bad = parse_periods({"cfrom": "2026-02-10", "cto": "2026-02-01"}, today=date(2026, 3, 31))
    assert bad.compare is None and bad.problems
