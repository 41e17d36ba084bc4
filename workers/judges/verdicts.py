"""Verdicts: what a judge returns per metric, whether a result passed its criteria, and
whether the call succeeded (docs/metrics.md#call-success). Pure functions.

Decisions where the spec is silent:
- a custom metric without `pass_criteria` has no verdict (`passed: null`), except a boolean one,
  which passes when true (a critical "Was the agent polite?" fails the call when false);
- an agent's standard criteria (`latency_ms.average_ms` `{"lte": 1500}`) judge computed results;
  a field that is absent or null (no latency turns at all) gives no verdict; a standard metric
  that failed does not pass; a skipped one (not applicable to this call) gives no verdict;
- `call_success` is false when any critical result failed or did not pass; otherwise null when
  the call itself could not be analysed (no verdict possible), else true.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.criteria import field_value, passes
from app.db.results import ResultRow
from app.status import COMPUTED, FAILED


@dataclass
class Judgement:
    """One custom metric's verdict: computed with result/explanation, or failed with a code."""

    status: str
    result: object = None
    explanation: str | None = None
    structured_output: dict | None = None
    error_code: str | None = None
    error_message: str | None = None
    usage: dict = field(default_factory=dict)
    duration_ms: int | None = None


def custom_passed(metric: dict, judgement: Judgement) -> bool | None:
    """Whether a custom result passed its metric's criteria (None: no verdict)."""
    if judgement.status != COMPUTED:
        return False if judgement.status == FAILED and metric.get("critical") else None
    criteria = metric.get("pass_criteria")
    if criteria is None and metric["result_type"] == "boolean":
        criteria = {"equals": True}
    return passes(criteria, judgement.result) if criteria else None


def standard_verdicts(criteria: list[dict], results: Sequence[ResultRow]) -> dict[str, tuple[bool | None, bool]]:
    """{metric_key: (passed, critical)} for every standard result an agent criterion names."""
    by_key = {r["metric_key"]: r for r in results}
    verdicts: dict[str, tuple[bool | None, bool]] = {}
    for item in criteria or []:
        key, _, path = item["metric"].partition(".")
        result = by_key.get(key)
        if result is None:
            continue
        passed, critical = verdicts.get(key, (None, False))
        critical = critical or item.get("critical", True)
        if result["status"] == FAILED:
            passed = False
        elif result["status"] == COMPUTED:
            value = field_value(result["result_data"], path)
            if value is not None:
                ok = passes(item["criteria"], value)
                passed = ok if passed is None else (passed and ok)
        verdicts[key] = (passed, critical)
    return verdicts


def call_success(critical_verdicts: list[bool | None], call_failed: bool) -> bool | None:
    """`critical_verdicts` holds `passed` of every critical result (False also for a failed one)."""
    if any(v is False for v in critical_verdicts):
        return False
    return None if call_failed else True
