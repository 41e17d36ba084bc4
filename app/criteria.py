"""Result types and pass criteria of metrics (docs/metrics.md#pass-criteria), as pure functions.

A criterion is an object with exactly one operator:
    {"equals": v}   {"gte": n}  {"gt": n}  {"lte": n}  {"lt": n}   {"in": [v, …]}   {"between": [a, b]}
`between` is inclusive. Which operators fit which result type is checked when a metric (or an
agent's standard criteria) is saved, so evaluation never meets a criterion it cannot apply.

Shared by the API (validation) and the workers (evaluation, judge-output checks).
"""
from __future__ import annotations

import math

RESULT_TYPES = ("boolean", "rating", "enum", "numeric")
OPERATORS = ("equals", "gte", "gt", "lte", "lt", "in", "between")
_ORDERED = {"gte", "gt", "lte", "lt", "between"}
RATING_MIN, RATING_MAX = 1, 5


def _is_number(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond a double (10**400): no result, no operand
        return False


def coerce_result(result_type: str, value, enum_values: list[str] | None = None):
    """The value as a valid result of `result_type`, or raise ValueError saying why.

    Ratings are integers 1–5 (4.0 is accepted as 4, 4.5 is not); numerics are finite numbers;
    enums are one of the exact strings; booleans are JSON booleans only.
    """
    if result_type == "boolean":
        if isinstance(value, bool):
            return value
        raise ValueError("expected true or false")
    if result_type == "rating":
        if _is_number(value) and float(value).is_integer() and RATING_MIN <= value <= RATING_MAX:
            return int(value)
        raise ValueError(f"expected an integer rating from {RATING_MIN} to {RATING_MAX}")
    if result_type == "numeric":
        if _is_number(value):
            return value
        raise ValueError("expected a finite number within the range of a double")
    if result_type == "enum":
        if isinstance(value, str) and value in (enum_values or []):
            return value
        raise ValueError(f"expected one of {enum_values}")
    raise ValueError(f"unknown result type {result_type!r}")


def criteria_errors(criteria: dict, result_type: str, enum_values: list[str] | None = None) -> list[str]:
    """Why `criteria` cannot judge results of `result_type` (empty list: it fits)."""
    if not isinstance(criteria, dict) or len(criteria) != 1:
        return [f"Use exactly one operator of {list(OPERATORS)}."]
    (op, operand), = criteria.items()
    if op not in OPERATORS:
        return [f"Unknown operator {op!r}; use one of {list(OPERATORS)}."]
    if result_type in ("boolean", "enum") and op in _ORDERED:
        return [f"{op!r} does not apply to {result_type} results."]
    values = operand if op in ("in", "between") else [operand]
    if op in ("in", "between") and (not isinstance(operand, list) or not operand):
        return [f"{op!r} takes a non-empty list."]
    if op == "between" and (len(operand) != 2 or not all(_is_number(v) for v in operand) or operand[0] > operand[1]):
        return ["'between' takes [low, high] numbers with low ≤ high."]
    if op == "between" and result_type == "rating":
        values = [max(RATING_MIN, min(RATING_MAX, round(v))) for v in operand]  # bounds, not results
    if op in ("gte", "gt", "lte", "lt"):
        if not _is_number(operand):
            return [f"{op!r} takes a number."]
        if result_type == "rating" and not RATING_MIN <= operand <= RATING_MAX:
            return [f"Ratings run from {RATING_MIN} to {RATING_MAX}; {operand} is out of range."]
        return []
    errors = []
    for value in values:
        try:
            coerce_result(result_type, value, enum_values)
        except ValueError as exc:
            errors.append(f"{value!r} is not a possible result: {exc}.")
    return errors


def passes(criteria: dict, value) -> bool:
    """Whether `value` meets `criteria` (already validated against the value's type)."""
    (op, operand), = criteria.items()
    if op == "equals":
        return value == operand and isinstance(value, bool) == isinstance(operand, bool)
    if op == "in":
        return any(value == v and isinstance(value, bool) == isinstance(v, bool) for v in operand)
    if not _is_number(value):
        return False
    if op == "between":
        return operand[0] <= value <= operand[1]
    return {"gte": value >= operand, "gt": value > operand, "lte": value <= operand, "lt": value < operand}[op]


def field_value(result_data: dict | None, path: str):
    """The value at a dotted path inside a standard metric's result_data (None when absent),
    e.g. "average_ms" or "ai_channel.total_ms"."""
    value = result_data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
