"""The storage limits on judge output (docs/metrics.md#judge-output-limits): pure checks."""
from __future__ import annotations

import pytest

from workers.judges.output import MAX_DEPTH, clean_text, storable, value_problem
from workers.judges.verdicts import Judgement


def nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("value, problem", [
    (2 ** 53, None),
    (-(2 ** 53) - 1, "an integer beyond ±2^53 (of 54 bits)"),
    pytest.param(10 ** 400, "an integer beyond ±2^53 (of 1329 bits)", id="10**400"),
    pytest.param(10 ** 5000, "an integer beyond ±2^53 (of 16610 bits)", id="10**5000"),  # str() refuses it
    (float("nan"), "a number that is not finite (nan)"),
    (nested(MAX_DEPTH), None),
    (nested(MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
    (nested(100_000), f"nested deeper than {MAX_DEPTH} levels"),   # iterative: no RecursionError
    ({"a": ["ok", "é😀"]}, None),
    ("a\x00b", "a NUL or a lone surrogate in a string"),
    ("\udc80", "a NUL or a lone surrogate in a string"),
    ({"k\x00": 1}, "a key that is not a storable string"),
    ({1, 2}, "a value of type set"),
])
def test_value_problems(value, problem):
    assert value_problem(value) == problem


def test_a_judgement_that_cannot_be_stored_becomes_its_own_failure():
    verdict = storable(Judgement("computed", result=1, explanation="x" * 16_001, usage={"total_tokens": 9},
                                 duration_ms=12))
    assert (verdict.status, verdict.error_code, verdict.result) == ("failed", "unstorable_output", None)
    assert (verdict.usage, verdict.duration_ms) == ({"total_tokens": 9}, 12)
    assert storable(Judgement("computed", result=1, structured_output={"value": "v" * 70_000})).error_code \
        == "unstorable_output"


def test_error_messages_are_cleaned_not_refused():
    verdict = storable(Judgement("failed", error_code="code_error", error_message="bad\x00 \ud800 end"))
    assert (verdict.error_code, verdict.error_message) == ("code_error", "bad\ufffd \ufffd end")
    assert clean_text("plain") == "plain"


def test_an_integer_beyond_a_double_is_no_numeric_result_and_passes_no_criterion():
    from app.criteria import coerce_result, passes

    with pytest.raises(ValueError, match="within the range of a double"):
        coerce_result("numeric", 10 ** 400)
    with pytest.raises(ValueError):
        coerce_result("rating", 10 ** 400)
    assert passes({"gte": 1}, 10 ** 400) is False and passes({"between": [0, 5]}, -(10 ** 400)) is False
