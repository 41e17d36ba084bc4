"""Code-as-judge (docs/metrics.md#code-as-judge): the documented `context`, the run in the sandbox, and the checks on
what the code set.

`context` (JSON; times as ISO 8601 strings):
    call               every call field: id, call_identifier, client_id, agent_id, observation_type,
                       call_direction, call_end_reason, customer_number, duration_seconds,
                       call_timestamp, label, tag, metadata, transcript_source, recording
    transcript         list of turns (role, content, start_time, end_time, data)
    standard_metrics   {metric_key: result_data} of the computed standard metrics
    llm_metrics        {metric name: {"result", "explanation"}} of the computed LLM metrics
    duration_seconds   the call's duration: as submitted, else the recording's, else the last turn's end
The code sets metric["result"] (of the metric's result type) and metric["explanation"] (a
string; empty when not set) and may set structured_output["name" | "value" | "classification"].
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.codecheck import check_code
from app.criteria import coerce_result
from app.db.custom_results import CustomResultRow
from app.db.results import ResultRow
from app.status import COMPUTED, FAILED
from workers.judges.sandbox import Sandbox
from workers.judges.verdicts import Judgement

CLASSIFICATIONS = ("meets_expectations", "exceeds_expectations", "below_expectations")
_CALL_FIELDS = ("id", "call_identifier", "agent_id", "observation_type", "call_direction", "call_end_reason",
                "customer_number", "duration_seconds", "call_timestamp", "label", "tag", "metadata",
                "transcript_source")


def code_context(call: Mapping[str, Any], standard_results: Sequence[ResultRow],
                 custom_results: Sequence[CustomResultRow]) -> dict:
    """The `context` a code metric reads, from the call row and its results so far."""
    fields = {name: call.get(name) for name in _CALL_FIELDS}
    fields["client_id"] = call["workspace_id"]
    fields["call_timestamp"] = call["call_timestamp"].isoformat() if call.get("call_timestamp") else None
    fields["recording"] = call.get("recording_info")
    transcript = call.get("transcript") or []
    return {
        "call": fields,
        "transcript": transcript,
        "standard_metrics": {r["metric_key"]: r["result_data"] for r in standard_results if r["status"] == COMPUTED},
        "llm_metrics": {r["name"]: {"result": r["result"], "explanation": r["explanation"]}
                        for r in custom_results if r["kind"] == "llm" and r["status"] == COMPUTED},
        "duration_seconds": _duration(call, transcript),
    }


def _duration(call: Mapping[str, Any], transcript: list[dict]) -> float | None:
    if call.get("duration_seconds") is not None:
        return float(call["duration_seconds"])
    if (call.get("recording_info") or {}).get("duration_seconds") is not None:
        return float(call["recording_info"]["duration_seconds"])
    ends = [t["end_time"] for t in transcript if t.get("end_time") is not None]
    return max(ends) if ends else None


def judge_code(sandbox: Sandbox, metric: dict, context: dict) -> Judgement:
    """Run one code metric; every failure mode ends `failed` with its own code."""
    problems = check_code(metric["code"])
    if problems:
        return Judgement(FAILED, error_code="code_forbidden", error_message=str(problems[0]))
    report = sandbox.run(metric["code"], context)
    if report.code:
        where = f"line {report.line}: " if report.line else ""
        return Judgement(FAILED, error_code=report.code, error_message=where + report.message,
                         duration_ms=report.duration_ms)
    failed = _output_problem(metric, report.metric, report.structured_output)
    if failed:
        return Judgement(FAILED, error_code="invalid_result_type", error_message=failed,
                         duration_ms=report.duration_ms)
    return Judgement(COMPUTED, result=coerce_result(metric["result_type"], report.metric["result"],
                                                      metric.get("enum_values")),
                     explanation=report.metric.get("explanation") or "",
                     structured_output=report.structured_output or None, duration_ms=report.duration_ms)


def _output_problem(metric: dict, output: dict, structured: dict) -> str | None:
    if "result" not in output:
        return 'The code did not set metric["result"].'
    try:
        coerce_result(metric["result_type"], output["result"], metric.get("enum_values"))
    except ValueError as exc:
        return f'metric["result"] = {output["result"]!r:.100}: {exc}.'
    if not isinstance(output.get("explanation", ""), str):
        return 'metric["explanation"] must be a string.'
    unknown = set(structured) - {"name", "value", "classification"}
    if unknown:
        return f"structured_output takes name, value and classification only (got {sorted(unknown)})."
    if "classification" in structured and structured["classification"] not in CLASSIFICATIONS:
        return f"structured_output['classification'] must be one of {list(CLASSIFICATIONS)}."
    if "name" in structured and not isinstance(structured["name"], str):
        return "structured_output['name'] must be a string."
    return None
