"""The LLM judge against a local OpenAI-compatible server over real HTTP: every result type,
batching and its fallback, invalid answers, rate limits, 5xx, timeouts, missing configuration."""
from __future__ import annotations

import pytest

from tests.support.fake_llm import FakeLLM
from tests.support.transcripts import CALL
from workers.judges.llm import OpenAIJudge, UnconfiguredJudge
from workers.judges.prompt import render_transcript

METRICS = [
    {"metric_id": 1, "name": "Polite", "result_type": "boolean", "prompt": "Was the agent polite?"},
    {"metric_id": 2, "name": "Empathy", "result_type": "rating", "prompt": "Rate the empathy."},
    {"metric_id": 3, "name": "Outcome", "result_type": "enum", "prompt": "How did it end?",
     "enum_values": ["resolved", "escalated", "abandoned"]},
    {"metric_id": 4, "name": "Questions", "result_type": "numeric", "prompt": "How many questions did the user ask?"},
]
ANSWERS = {"Polite": (True, "said please"), "Empathy": (4.0, "warm"), "Outcome": ("resolved", "booked"),
           "Questions": (2, "two questions")}


def judge_for(llm: FakeLLM, **kwargs) -> OpenAIJudge:
    options = {"timeout": 2.0, "concurrency": 4, "max_retries": 2, "backoff_seconds": 0.01, **kwargs}
    return OpenAIJudge(llm.base_url, "test-key", "judge-model", **options)


def test_one_batched_structured_request_for_all_metrics():
    with FakeLLM(answers=ANSWERS) as llm:
        verdicts = judge_for(llm).judge(CALL, METRICS)
    assert len(llm.requests) == 1
    request = llm.requests[0]
    assert request["temperature"] == 0 and request["model"] == "judge-model"
    schema = request["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {"m1", "m2", "m3", "m4"}
    assert schema["properties"]["m3"]["properties"]["result"]["enum"] == ["resolved", "escalated", "abandoned"]
    assert {k: (v.status, v.result) for k, v in verdicts.items()} == {
        1: ("computed", True), 2: ("computed", 4), 3: ("computed", "resolved"), 4: ("computed", 2)}
    assert verdicts[1].explanation == "said please"
    assert verdicts[1].usage["batch_size"] == 4 and verdicts[1].usage["total_tokens"] > 20


def test_the_judge_sees_roles_timestamps_and_tool_calls():
    transcript = [
        {"role": "AI Assistant", "content": "Let me check.", "start_time": 1.0, "end_time": 2.5},
        {"role": "Function Call", "data": {"id": "c1", "name": "lookup", "arguments": {"order": 42}}, "start_time": 2.6},
        {"role": "Function Call Result", "data": {"id": "c1", "result": "shipped"}},
    ]
    text = render_transcript(transcript)
    assert text.splitlines() == ["[1.00–2.50] AI Assistant: Let me check.",
                                 '[2.60] Function Call: lookup({"order": 42})',
                                 "Function Call Result: shipped"]
    with FakeLLM(answers=ANSWERS) as llm:
        judge_for(llm).judge(transcript, METRICS[:1])
    assert text in llm.requests[0]["messages"][1]["content"]


def test_refused_batching_falls_back_to_one_request_per_metric():
    with FakeLLM(answers=ANSWERS, refuse_structured=True) as llm:
        verdicts = judge_for(llm).judge(CALL, METRICS)
    assert all(v.status == "computed" for v in verdicts.values())
    assert len(llm.requests) == 1 + len(METRICS)
    assert all("response_format" not in r for r in llm.requests[1:])
    assert verdicts[3].usage["requests"] == 1 and "batch_size" not in verdicts[3].usage


def test_an_invalid_answer_is_retried_once_then_fails():
    with FakeLLM(answers=ANSWERS, wrong_type=1) as llm:  # the batch answers strings: each retried alone
        verdicts = judge_for(llm).judge(CALL, METRICS)
    assert all(v.status == "computed" for v in verdicts.values())
    assert len(llm.requests) == 1 + len(METRICS)
    assert "previous answer was invalid" in llm.requests[1]["messages"][1]["content"]
    with FakeLLM(answers={**ANSWERS, "Empathy": (9, "off the scale")}) as llm:
        verdicts = judge_for(llm).judge(CALL, METRICS)
    assert verdicts[2].status == "failed" and verdicts[2].error_code == "invalid_judge_output"
    assert "9" in verdicts[2].error_message
    assert verdicts[1].status == "computed"
    assert len(llm.requests) == 2  # the batch, then one retry of the invalid metric alone


def test_malformed_json_counts_as_invalid():
    with FakeLLM(answers=ANSWERS, malformed=10) as llm:
        verdicts = judge_for(llm).judge(CALL, METRICS[:1])
    assert verdicts[1].error_code == "invalid_judge_output"
    assert len(llm.requests) == 2


def test_rate_limits_and_server_errors_are_retried_with_backoff():
    with FakeLLM(answers=ANSWERS, status_sequence=[429, 503]) as llm:
        verdicts = judge_for(llm).judge(CALL, METRICS)
    assert all(v.status == "computed" for v in verdicts.values())
    assert len(llm.requests) == 3
    with FakeLLM(answers=ANSWERS, status_sequence=[500, 500, 500, 500]) as llm:
        verdicts = judge_for(llm).judge(CALL, METRICS)
    assert {v.error_code for v in verdicts.values()} == {"llm_unavailable"}
    assert len(llm.requests) == 3  # the first try and max_retries=2


def test_a_timeout_is_retried_then_fails_unavailable():
    with FakeLLM(answers=ANSWERS, delay=0.5) as llm:
        verdicts = judge_for(llm, timeout=0.2, max_retries=1).judge(CALL, METRICS[:2])
    assert {v.error_code for v in verdicts.values()} == {"llm_unavailable"}
    assert len(llm.requests) == 2


@pytest.mark.parametrize("status", [401, 403])
def test_a_rejected_key_fails_at_once(status):
    with FakeLLM(answers=ANSWERS, status_sequence=[status]) as llm:
        verdicts = judge_for(llm).judge(CALL, METRICS)
    assert {v.error_code for v in verdicts.values()} == {"llm_request_rejected"}
    assert len(llm.requests) == 1


def test_no_provider_configured():
    verdicts = UnconfiguredJudge().judge(CALL, METRICS)
    assert {v.error_code for v in verdicts.values()} == {"llm_not_configured"}
