"""Custom metrics through the pipeline's stages: LLM judges once a transcript exists, code judges
after the join with every other result in their context, pass criteria and call success."""
from __future__ import annotations

from dataclasses import replace

import pytest

from app.db import agents as agents_db
from app.service import metrics as metrics_service
from tests.support.fake_llm import FakeLLM
from tests.support.transcripts import CALL
from workers.judges.llm import OpenAIJudge
from workers.pipeline import CODE_JUDGES, LLM_JUDGES, TRANSCRIPT_METRICS
from workers.stages import analyze, finalize, judges, transcript

pytestmark = pytest.mark.services

POLITE = {"name": "Polite", "kind": "llm", "result_type": "boolean", "prompt": "Was the agent polite?"}
LATENCY_OK = {"name": "Latency under 1 s", "kind": "code", "result_type": "boolean", "critical": True,
              "code": 'avg = context["standard_metrics"]["latency_ms"]["average_ms"]\n'
                      'metric["result"] = avg < 1000 and context["llm_metrics"]["Polite"]["result"]\n'
                      'metric["explanation"] = f"average {avg} ms"\n'
                      'structured_output["value"] = avg'}


def define(new_call, *definitions) -> list[int]:
    ids = [metrics_service.create_metric(new_call.api, new_call.workspace_id, {
        "critical": False, "enabled": True, **d})["id"] for d in definitions]
    return ids


def custom(db, call_id) -> dict:
    return {r["name"]: r for r in db.execute(
        "SELECT r.*, v.name FROM custom_results r JOIN custom_metric_versions v"
        " ON v.metric_id = r.metric_id AND v.version = r.metric_version WHERE r.call_id = %s", (call_id,))}


def run_transcript_call(deps, new_call, sent, llm=True, **fields) -> int:
    call_id = new_call(transcript=CALL, **fields)
    analyze.analyze_call(deps, call_id)
    expected = [TRANSCRIPT_METRICS, LLM_JUDGES] if fields.get("metric_ids") and llm else [TRANSCRIPT_METRICS]
    assert sorted(t[0] for t in sent.tasks if t[1] == call_id) == sorted(expected)
    transcript.compute_transcript_metrics(deps, call_id)
    judges.run_llm_judges(deps, call_id)
    assert [t for t in sent.tasks if t[0] == CODE_JUDGES and t[1] == call_id] == [(CODE_JUDGES, call_id)]
    judges.run_code_judges(deps, call_id)
    finalize.finalize_call(deps, call_id)
    return call_id


def judged_with_fake_llm(deps, new_call, sent, answers: dict, metric_ids: list[int]) -> int:
    """A transcript call through every stage, its LLM metrics judged by the local fake provider."""
    with FakeLLM(answers=answers) as llm:
        deps = replace(deps, judge=OpenAIJudge(llm.base_url, "", "m", 5, max_retries=0))
        return run_transcript_call(deps, new_call, sent, metric_ids=metric_ids)


def test_llm_then_code_judges_decide_call_success(env):
    deps, sent, new_call, db = env
    polite, latency = define(new_call, POLITE, LATENCY_OK)
    call_id = judged_with_fake_llm(deps, new_call, sent, {"Polite": (True, "greets and thanks")}, [polite, latency])
    results = custom(db, call_id)
    assert results["Polite"]["status"] == "computed" and results["Polite"]["result"] is True
    assert results["Polite"]["passed"] is True and results["Polite"]["usage"]["total_tokens"] > 0
    # CALL's average latency from its timings is 960 ms (tests/e2e/test_pipeline.py)
    code = results["Latency under 1 s"]
    assert (code["status"], code["result"], code["passed"]) == ("computed", True, True)
    assert code["explanation"].startswith("average ") and code["structured_output"]["value"] < 1000
    call = db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert (call["analysis_status"], call["call_success"]) == ("computed", True)


def test_a_failing_critical_metric_makes_the_call_unsuccessful(env):
    deps, sent, new_call, db = env
    polite, latency = define(new_call, POLITE, LATENCY_OK)
    call_id = judged_with_fake_llm(deps, new_call, sent, {"Polite": (False, "rude")}, [polite, latency])
    results = custom(db, call_id)
    assert results["Polite"]["passed"] is False  # not critical: does not decide success alone
    assert results["Latency under 1 s"]["result"] is False and results["Latency under 1 s"]["passed"] is False
    call = db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert (call["analysis_status"], call["call_success"]) == ("computed", False)


def test_no_llm_provider_fails_llm_metrics_clearly_and_code_still_runs(env):
    deps, sent, new_call, db = env  # env's judge is UnconfiguredJudge
    polite, latency = define(new_call, POLITE, LATENCY_OK)
    call_id = run_transcript_call(deps, new_call, sent, metric_ids=[polite, latency])
    results = custom(db, call_id)
    assert (results["Polite"]["status"], results["Polite"]["error_code"]) == ("failed", "llm_not_configured")
    # the code reads llm_metrics["Polite"], which is absent: its own error, with the line
    assert results["Latency under 1 s"]["error_code"] == "code_error"
    assert results["Latency under 1 s"]["error_message"].startswith("line 2: KeyError")
    call = db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert (call["analysis_status"], call["failure_code"], call["call_success"]) == ("failed", "metric_failed", False)


def test_code_judges_redelivered_run_only_what_is_pending(env):
    deps, sent, new_call, db = env
    counter = {"name": "Turns", "kind": "code", "result_type": "numeric",
               "code": 'metric["result"] = len(context["transcript"])'}
    (metric_id,) = define(new_call, counter)
    call_id = new_call(transcript=CALL, metric_ids=[metric_id])
    analyze.analyze_call(deps, call_id)
    transcript.compute_transcript_metrics(deps, call_id)
    judges.run_code_judges(deps, call_id)
    first = custom(db, call_id)["Turns"]
    judges.run_code_judges(deps, call_id)  # redelivered
    assert custom(db, call_id)["Turns"] == first and first["result"] == len(CALL)


def test_agent_criteria_on_standard_metrics(env):
    deps, sent, new_call, db = env
    criteria = [{"metric": "latency_ms.average_ms", "criteria": {"lte": 500}, "critical": True},
                {"metric": "talk_ratio.ratio", "criteria": {"between": [0.2, 0.8]}, "critical": False}]
    agents_db.update_agent(db, new_call.workspace_id, new_call.agent_id, {"standard_criteria": criteria})
    db.commit()
    call_id = run_transcript_call(deps, new_call, sent)
    rows = {r["metric_key"]: r for r in db.execute("SELECT * FROM metric_results WHERE call_id = %s", (call_id,))}
    assert (rows["latency_ms"]["passed"], rows["latency_ms"]["critical"]) == (False, True)  # 960 ms > 500
    assert (rows["talk_ratio"]["passed"], rows["talk_ratio"]["critical"]) == (True, False)
    assert rows["silence_detection"]["passed"] is None
    call = db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert (call["analysis_status"], call["call_success"]) == ("computed", False)


def test_llm_metrics_without_a_transcript_are_skipped(env):
    deps, sent, new_call, db = env
    (polite,) = define(new_call, POLITE)
    call_id = new_call(observation_type="text", recording_url="http://127.0.0.1:9/a.wav", metric_ids=[polite])
    analyze.analyze_call(deps, call_id)
    assert custom(db, call_id)["Polite"]["status"] == "skipped"
    assert custom(db, call_id)["Polite"]["error_code"] == "no_transcript"
    assert [t[0] for t in sent.tasks if t[1] == call_id] == [CODE_JUDGES]


# ---- the review's crash inputs (issue 16, finding 2): each fails its own metric, never the call ----

CRASHES = {
    "Huge": 'metric["result"] = 10**400',
    "Deep": 'x = []\nfor i in range(990):\n    x = [x]\nmetric["result"] = 1\nstructured_output["value"] = x',
    "Nul": 'metric["result"] = 1\nmetric["explanation"] = "before" + chr(0) + "after"',
    "Surrogate": 'metric["result"] = 1\nmetric["explanation"] = "lone " + chr(0xD800)',
    "Nul in its exception": 'raise ValueError("bad" + chr(0))',
    "Fine": 'metric["result"] = len(context["transcript"])\nmetric["explanation"] = "counted"',
}


def test_crash_inputs_fail_their_own_metric_and_the_others_still_run(env):
    deps, sent, new_call, db = env
    ids = define(new_call, *({"name": name, "kind": "code", "result_type": "numeric", "critical": False,
                              "pass_criteria": {"gte": 1}, "code": code} for name, code in CRASHES.items()))
    call_id = run_transcript_call(deps, new_call, sent, llm=False, metric_ids=ids)
    results = custom(db, call_id)
    codes = {name: (r["status"], r["error_code"]) for name, r in results.items()}
    assert codes == {"Huge": ("failed", "invalid_result_type"), "Deep": ("failed", "unstorable_output"),
                     "Nul": ("failed", "unstorable_output"), "Surrogate": ("failed", "unstorable_output"),
                     "Nul in its exception": ("failed", "code_error"), "Fine": ("computed", None)}
    assert results["Fine"]["result"] == len(CALL) and results["Fine"]["passed"] is True
    assert "NUL" in results["Nul"]["error_message"]
    assert results["Nul in its exception"]["error_message"] == "line 1: ValueError: bad\ufffd"
    call = db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert (call["analysis_status"], call["failure_code"]) == ("failed", "metric_failed")  # not internal_error
    computed = db.execute("SELECT count(*) AS n FROM metric_results WHERE call_id = %s AND status = 'computed'",
                          (call_id,)).fetchone()["n"]
    assert computed > 0  # the standard metrics are untouched


class SurprisingSandbox:
    """A sandbox whose run raises for one metric: any unexpected exception in a judge."""

    def __init__(self, real):
        self.real = real

    def run(self, source, context):
        if "surprise" in source:
            raise RuntimeError("the judge itself broke")
        return self.real.run(source, context)


def test_an_unexpected_exception_in_one_code_judge_is_that_metrics_failure(env):
    deps, sent, new_call, db = env
    ids = define(new_call, {"name": "Breaks", "kind": "code", "result_type": "numeric",
                            "code": '# surprise\nmetric["result"] = 1'},
                 {"name": "Works", "kind": "code", "result_type": "numeric", "code": 'metric["result"] = 2'})
    deps = replace(deps, sandbox=SurprisingSandbox(deps.sandbox))
    call_id = run_transcript_call(deps, new_call, sent, llm=False, metric_ids=ids)
    results = custom(db, call_id)
    assert (results["Breaks"]["status"], results["Breaks"]["error_code"]) == ("failed", "metric_error")
    assert results["Breaks"]["error_message"] == "RuntimeError: the judge itself broke"
    assert (results["Works"]["status"], results["Works"]["result"]) == ("computed", 2)


def test_an_llm_explanation_postgres_cannot_hold_fails_that_metric_only(env):
    deps, sent, new_call, db = env
    polite, latency = define(new_call, POLITE, LATENCY_OK)
    call_id = judged_with_fake_llm(deps, new_call, sent, {"Polite": (True, "fine\x00then")}, [polite, latency])
    results = custom(db, call_id)
    assert (results["Polite"]["status"], results["Polite"]["error_code"]) == ("failed", "unstorable_output")
    assert results["Polite"]["usage"]["total_tokens"] > 0  # what it cost is kept
    assert results["Latency under 1 s"]["status"] == "failed"  # it reads the failed LLM metric: KeyError
    call = db.execute("SELECT * FROM calls WHERE id = %s", (call_id,)).fetchone()
    assert call["failure_code"] == "metric_failed"


def test_a_redacting_llm_metric_never_sends_the_numbers_to_the_provider(env):
    deps, sent, new_call, db = env
    secret = [{"role": "User", "content": "Reach me on +1 415 555 0132 or ann@example.com, card 4111 1111 1111 1111",
               "start_time": 0.5, "end_time": 3.0},
              {"role": "AI Assistant", "content": "Thanks, noted.", "start_time": 3.5, "end_time": 4.5}]
    redacting = {**POLITE, "name": "Polite (redacted)", "redact": True}
    plain, masked = define(new_call, POLITE, redacting)
    with FakeLLM(answers={"Polite": (True, "ok"), "Polite (redacted)": (True, "ok")}) as llm:
        deps = replace(deps, judge=OpenAIJudge(llm.base_url, "", "m", 5, max_retries=0))
        call_id = new_call(transcript=secret, metric_ids=[plain, masked])
        analyze.analyze_call(deps, call_id)
        judges.run_llm_judges(deps, call_id)
    prompts = {name: req["messages"][-1]["content"] for req in llm.requests
               for name in ("Polite", "Polite (redacted)") if f'"name": "{name}"' in req["messages"][-1]["content"]}
    assert set(prompts) == {"Polite", "Polite (redacted)"}  # one request each: never mixed
    assert "415 555 0132" in prompts["Polite"]
    redacted = prompts["Polite (redacted)"]
    assert "[PHONE]" in redacted and "[EMAIL]" in redacted and "[CARD]" in redacted
    assert "555" not in redacted and "ann@" not in redacted and "4111" not in redacted
    assert all(r["status"] == "computed" for r in custom(db, call_id).values())
    stored = db.execute("SELECT transcript FROM calls WHERE id = %s", (call_id,)).fetchone()["transcript"]
    assert stored == secret
