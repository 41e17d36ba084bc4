"""Platform-reported latency beside the measured one: reading each platform's numbers, matching
turns, the gaps and their summary."""
from app.catalogue import DEFAULT_THRESHOLDS
from app.platforms import elevenlabs, retell, vapi
from tests.support import platforms as pf
from tests.support.transcripts import CALL
from workers.metrics.inputs import from_transcript
from workers.metrics.registry import REGISTRY
from workers.metrics.reported import compare_latency, reported_turn_latencies

MEASURED = REGISTRY["latency_ms"](from_transcript(CALL, "inbound", dict(DEFAULT_THRESHOLDS)))  # 900, 2500, 300, 600, 500


def platform_data(event) -> dict:
    return {"name": event.platform, **event.platform_data}


def test_each_platform_is_read_from_what_its_integration_kept():
    source, values = reported_turn_latencies(platform_data(vapi.map_event(pf.vapi_report("v"))))
    assert source.startswith("vapi") and values == [1020.0] * 5
    source, values = reported_turn_latencies(platform_data(retell.map_event(pf.retell_event("call_ended", "r"))))
    assert source.startswith("retell") and values == [800.0, 900.0, 1000.0, 1100.0, 1300.0]
    older = platform_data(retell.map_event(pf.retell_event("call_ended", "r", older=True)))
    assert reported_turn_latencies(older)[1] == [800.0, 900.0, 1000.0, 1100.0, 1300.0]
    source, values = reported_turn_latencies(platform_data(elevenlabs.map_event(pf.elevenlabs_transcription("e"))))
    assert source.startswith("elevenlabs") and values == [410.0] * 7
    assert reported_turn_latencies({"name": "vapi"}) is None and reported_turn_latencies({"name": "other"}) is None


def test_turns_matched_in_order_with_gap_and_summary():
    compared = compare_latency(MEASURED, "retell", [800, 900, 1000, 1100, 1300])
    assert compared["matched_by"] == "order"
    assert [(t["turn"], t["measured_ms"], t["reported_ms"], t["gap_ms"]) for t in compared["turns"]] == [
        (3, 900, 800, 100), (6, 2500, 900, 1600), (8, 300, 1000, -700), (11, 600, 1100, -500), (13, 500, 1300, -800)]
    assert compared["summary"] == {"reported_average_ms": 1020, "measured_average_ms": 960, "average_gap_ms": -60,
                                   "median_gap_ms": -500, "max_gap_ms": 1600, "min_gap_ms": -800,
                                   "turns_measured_slower": 2}


def test_unequal_turn_counts_compare_averages_only():
    compared = compare_latency(MEASURED, "vapi", [1000, 1200])
    assert compared["matched_by"] == "none" and compared["turns"] == []
    assert compared["summary"] == {"reported_average_ms": 1100, "measured_average_ms": 960, "average_gap_ms": -140}
