"""Turn-taking metrics from a timed transcript, against numbers worked out by hand.

The conversation (tests/support/transcripts.py, times in seconds) was laid out so every rule
shows up once: a user backchannel inside AI speech, a user barge-in, an AI backchannel, a long
silence charged to each party, and a tool call that must be ignored. Expected values are
derived in the comments.
"""
import pytest

from app.catalogue import DEFAULT_THRESHOLDS
from tests.support.transcripts import AI, CALL, U
from workers.metrics.inputs import Skip, from_transcript
from workers.metrics.registry import REGISTRY, compute
from workers.metrics.turn_taking import percentile
from workers.pipeline import AUDIO_ONLY


def run(key, transcript=CALL, direction="inbound", **thresholds):
    data = from_transcript(transcript, direction, {**DEFAULT_THRESHOLDS, **thresholds})
    return REGISTRY[key](data)


def test_latency_per_ai_turn_that_answers_the_user():
    # AI turns answering the user: 6.9-6.0, 14.5-12.0, 19.3-19.0, 25.6-25.0, 31.5-31.0
    # (the AI's 23.0 "Mhm" starts while the user speaks: an interruption, not a latency)
    result = run("latency_ms")
    assert [(t["turn"], t["latency_ms"], t["at_second"]) for t in result["turns"]] == [
        (3, 900, 6.9), (6, 2500, 14.5), (8, 300, 19.3), (11, 600, 25.6), (13, 500, 31.5)]
    assert result["average_ms"] == 960
    # sorted 300 500 600 900 2500, linear interpolation between ranks
    assert (result["p50_ms"], result["p90_ms"], result["p95_ms"], result["p99_ms"], result["max_ms"]) == (
        600, 1860, 2180, 2436, 2500)


def test_user_interruptions_distinguish_backchannel_from_barge_in():
    result = run("user_interruptions")
    assert result["count"] == 2
    assert result["interruptions"] == [
        {"at_second": 8.5, "duration_ms": 500, "type": "backchannel"},   # 0.5 s, AI keeps talking
        {"at_second": 16.5, "duration_ms": 1500, "type": "barge_in"},    # overlaps until the AI stops at 18.0
    ]
    assert result["threshold_ms"] == 300


def test_ai_interruptions():
    result = run("ai_interruptions")
    assert result["count"] == 1
    assert result["interruptions"] == [{"at_second": 23.0, "duration_ms": 400, "type": "backchannel"}]


def test_overlap_below_threshold_is_not_an_interruption():
    # raising the threshold to 600 ms drops the 500 ms and 400 ms overlaps
    assert run("user_interruptions", interruption_min_overlap_ms=600)["count"] == 1
    assert run("ai_interruptions", interruption_min_overlap_ms=600)["count"] == 0


def test_stop_time_after_user_barge_in():
    result = run("stop_time_after_interruption")
    assert result == {"average_ms": 1500, "events": [{"at_second": 16.5, "stop_time_ms": 1500}],
                      "threshold_ms": 300, "backchannel_max_ms": 1000}


def test_silence_is_charged_to_the_party_expected_to_speak():
    result = run("silence_detection")
    # 12.0→14.5: the user spoke last, so the AI was expected to answer
    assert result["ai_channel"] == {"count": 1, "total_ms": 2500, "events": [{"at_second": 12.0, "duration_ms": 2500}]}
    # 27.0→30.0: the AI spoke last, so the user was expected to answer
    assert result["user_channel"] == {"count": 1, "total_ms": 3000, "events": [{"at_second": 27.0, "duration_ms": 3000}]}
    assert result["threshold_ms"] == 2000


def test_silence_threshold_comes_from_agent_settings():
    result = run("silence_detection", silence_threshold_ms=2600)
    assert result["ai_channel"]["count"] == 0 and result["user_channel"]["count"] == 1


def test_talk_ratio():
    # AI 2.5+3.1+3.5+1.7+0.4+1.4+1.0 = 13.6 s; user 2.2+0.5+1.6+2.5+3.5+1.0 = 11.3 s;
    # overlaps 0.5+1.5+0.4 = 2.4 s
    assert run("talk_ratio") == {"ratio": 0.5462, "ai_talk_ms": 13600, "user_talk_ms": 11300, "overlap_ms": 2400}


def test_words_per_minute():
    # AI words 9+11+9+4+1+6+1 = 41 over 13.6 s; user words 6+1+6+7+8+2 = 30 over 11.3 s
    result = run("word_per_minute")
    assert result == {"wpm": 180.9, "words": 41, "speaking_seconds": 13.6, "user_wpm": 159.3,
                      "user_words": 30, "user_speaking_seconds": 11.3}


def test_time_to_first_word():
    assert run("time_to_first_word_ms") == {"ms": 500}
    assert run("time_to_first_word_ms", direction="outbound") == Skip("outbound_call")


def test_untimed_transcript_skips_timing_metrics_instead_of_inventing_numbers():
    untimed = [dict(t) for t in CALL]
    del untimed[4]["end_time"]
    for key in REGISTRY:
        if key == "time_to_first_word_ms" or key in AUDIO_ONLY:  # audio-only: planned away without a recording
            continue
        assert run(key, transcript=untimed) == Skip("no_timed_transcript"), key


def test_single_party_call():
    monologue = [{"role": AI, "content": "Hello there", "start_time": 1.0, "end_time": 2.0}]
    assert run("latency_ms", transcript=monologue) == Skip("not_enough_turns")
    assert run("user_interruptions", transcript=monologue)["count"] == 0
    assert run("talk_ratio", transcript=monologue)["ratio"] == 1.0
    assert run("word_per_minute", transcript=monologue)["user_wpm"] is None


def test_split_ai_messages_form_one_turn():
    # two consecutive AI messages with no user speech between them are one turn: one latency
    transcript = [
        {"role": U, "content": "hi", "start_time": 0.0, "end_time": 1.0},
        {"role": AI, "content": "hello", "start_time": 1.4, "end_time": 2.0},
        {"role": AI, "content": "how can I help", "start_time": 2.1, "end_time": 3.0},
    ]
    assert run("latency_ms", transcript=transcript)["turns"] == [{"turn": 2, "latency_ms": 400, "at_second": 1.4}]


def test_ai_response_after_its_own_backchannel_still_counts_as_latency():
    # user 0–3 s, AI says "mhm" at 1.0–1.4 (inside), then answers at 4.0: latency 1000 ms
    transcript = [
        {"role": U, "content": "so my question is", "start_time": 0.0, "end_time": 3.0},
        {"role": AI, "content": "mhm", "start_time": 1.0, "end_time": 1.4},
        {"role": AI, "content": "right", "start_time": 4.0, "end_time": 5.0},
    ]
    assert run("latency_ms", transcript=transcript)["turns"] == [{"turn": 3, "latency_ms": 1000, "at_second": 4.0}]


def test_a_raising_metric_fails_alone():
    def broken(_):
        raise ZeroDivisionError("boom")

    REGISTRY["broken"] = broken
    try:
        outcome = compute("broken", from_transcript(CALL, "inbound", DEFAULT_THRESHOLDS))
        assert outcome.status == "failed" and outcome.error_code == "metric_error"
        assert compute("talk_ratio", from_transcript(CALL, "inbound", DEFAULT_THRESHOLDS)).status == "computed"
    finally:
        del REGISTRY["broken"]


@pytest.mark.parametrize("q,expected", [(0, 1), (50, 2.5), (100, 4), (25, 1.75)])
def test_percentile_linear_interpolation(q, expected):
    assert percentile([4, 1, 3, 2], q) == pytest.approx(expected)


def test_false_interruption_ai_stops_for_a_cough():
    # the AI (0–5 s) stops at 3.4 s, 0.4 s after a 0.3 s user sound; the user says nothing more
    transcript = [
        {"role": AI, "content": "let me explain the options", "start_time": 0.0, "end_time": 3.4},
        {"role": U, "content": "hm", "start_time": 3.0, "end_time": 3.3},
        {"role": AI, "content": "sorry go ahead", "start_time": 5.0, "end_time": 6.0},
    ]
    assert run("false_interruptions", transcript=transcript) == {
        "count": 1, "events": [{"at_second": 3.0, "stop_time_ms": 400}], "backchannel_max_ms": 1000}
    # in the reference call the user's "Okay" at 8.5 is followed by the AI talking on to 10.0
    assert run("false_interruptions")["count"] == 0


def test_interruption_non_adherence():
    # user barges in at 2.0 for 3 s; the AI talks on until 4.5 → 2.5 s of overlap ≥ 2 s
    transcript = [
        {"role": AI, "content": "long speech", "start_time": 0.0, "end_time": 4.5},
        {"role": U, "content": "wait wait stop please", "start_time": 2.0, "end_time": 5.0},
    ]
    assert run("interruption_non_adherence", transcript=transcript) == {
        "count": 1, "events": [{"at_second": 2.0, "overlap_ms": 2500}], "threshold_ms": 2000}
    # the reference call's barge-in overlaps 1.5 s: the AI yielded in time
    assert run("interruption_non_adherence")["count"] == 0


def test_a_long_user_turn_is_a_barge_in_whatever_the_overlap():
    # the AI (0–4.0) is cut into at 3.6; the user goes on for 3 s: 400 ms both spoke, the floor changed
    transcript = [
        {"role": AI, "content": "our hours are eight to six on weekdays", "start_time": 0.0, "end_time": 4.0},
        {"role": U, "content": "right and what about saturdays then", "start_time": 3.6, "end_time": 6.6},
    ]
    assert run("user_interruptions", transcript=transcript)["interruptions"] == [
        {"at_second": 3.6, "duration_ms": 400, "type": "barge_in"}]


def test_a_short_word_that_takes_the_floor_is_a_barge_in_and_a_short_one_under_speech_a_backchannel():
    # "wait" (2.0–2.6): the AI stops at 2.5 and says nothing more → the floor went to the user
    took_floor = [
        {"role": AI, "content": "the fee is twelve dollars", "start_time": 0.0, "end_time": 2.5},
        {"role": U, "content": "wait", "start_time": 2.0, "end_time": 2.6},
    ]
    assert run("user_interruptions", transcript=took_floor)["interruptions"] == [
        {"at_second": 2.0, "duration_ms": 500, "type": "barge_in"}]
    # "okay" (2.0–2.6) while the AI talks on to 5.0 → a backchannel
    kept_floor = [dict(took_floor[0], end_time=5.0), took_floor[1]]
    assert run("user_interruptions", transcript=kept_floor)["interruptions"] == [
        {"at_second": 2.0, "duration_ms": 600, "type": "backchannel"}]


def test_stop_time_runs_to_where_the_ai_really_stops_not_to_a_pause():
    # the user barges in at 2.0 (to 6.0); the AI pauses 2.4–2.9 and talks on to 3.5 before yielding
    transcript = [
        {"role": AI, "content": "so the next step", "start_time": 0.0, "end_time": 2.4},
        {"role": AI, "content": "is to confirm", "start_time": 2.9, "end_time": 3.5},
        {"role": U, "content": "no no I already did that yesterday", "start_time": 2.0, "end_time": 6.0},
    ]
    assert run("stop_time_after_interruption", transcript=transcript)["events"] == [
        {"at_second": 2.0, "stop_time_ms": 1500}]
    assert run("user_interruptions", transcript=transcript)["interruptions"] == [
        {"at_second": 2.0, "duration_ms": 1000, "type": "barge_in"}]   # 2.0–2.4 and 2.9–3.5
