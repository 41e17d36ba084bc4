"""What a judge may hand to the database (docs/metrics.md#judge-output-limits).

Both judges return values someone else produced: a user's code, or a language model. Whatever
they are, writing them must not raise — a raise fails the whole call `internal_error` and the
call's other metrics never run. So every judgement is checked here before it is written, and
one that cannot be stored becomes that metric's own failure, `unstorable_output`:
- numbers: finite, and integers within ±2⁵³ (what a JSON reader keeps exactly; `10**400`
  made the criteria check raise OverflowError and is beyond every client's doubles);
- nesting: at most MAX_DEPTH levels (a list ~990 deep made the JSON encoder raise RecursionError);
- size: the explanation at most MAX_EXPLANATION_CHARS, the structured output at most
  MAX_STRUCTURED_BYTES once encoded;
- text: no NUL (Postgres text and jsonb cannot hold U+0000) and no lone surrogate (not UTF-8).
Error messages are ours but quote the user's exception text, so they are cleaned, not refused.

The walk is iterative, so a hostile depth cannot exhaust the worker's own stack.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import replace

from app.status import FAILED
from workers.judges.verdicts import Judgement

MAX_DEPTH = 32
MAX_EXPLANATION_CHARS = 16_000
MAX_STRUCTURED_BYTES = 64 * 1024
MAX_ERROR_MESSAGE_CHARS = 1_000
MAX_EXACT_INTEGER = 2 ** 53
UNSTORABLE = "unstorable_output"
_BAD_CHARACTERS = re.compile("[\x00\ud800-\udfff]")  # NUL and every surrogate (alone, they are not UTF-8)


def storable(judgement: Judgement) -> Judgement:
    """The judgement if it can be written as is; else the same metric failed `unstorable_output`
    (usage and duration kept). Error messages are cleaned rather than refused."""
    problem = _problem(judgement)
    if problem:
        return Judgement(FAILED, error_code=UNSTORABLE, error_message=problem,
                         usage=judgement.usage, duration_ms=judgement.duration_ms)
    if judgement.error_message is not None:
        judgement = replace(judgement, error_message=clean_text(judgement.error_message)[:MAX_ERROR_MESSAGE_CHARS])
    return judgement


def clean_text(text: str) -> str:
    """`text` with NULs and lone surrogates replaced by U+FFFD (storable in Postgres)."""
    return _BAD_CHARACTERS.sub("\ufffd", text)


def _problem(judgement: Judgement) -> str | None:
    for where, value in (("result", judgement.result), ("explanation", judgement.explanation),
                         ("structured_output", judgement.structured_output)):
        problem = value_problem(value)
        if problem:
            return f"{where}: {problem}"
    if judgement.explanation and len(judgement.explanation) > MAX_EXPLANATION_CHARS:
        return f"explanation: {len(judgement.explanation)} characters, over {MAX_EXPLANATION_CHARS}"
    if judgement.structured_output:
        size = len(json.dumps(judgement.structured_output, ensure_ascii=False).encode())
        if size > MAX_STRUCTURED_BYTES:
            return f"structured_output: {size} bytes once encoded, over {MAX_STRUCTURED_BYTES}"
    return None


def value_problem(value: object) -> str | None:
    """Why a JSON-like value cannot be stored (None: it can). Iterative, so any depth is safe."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int):
            if abs(item) > MAX_EXACT_INTEGER:
                return f"an integer beyond ±2^53 (of {item.bit_length()} bits)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"a number that is not finite ({item})"
        elif isinstance(item, str):
            if _has_bad_characters(item):
                return "a NUL or a lone surrogate in a string"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) or _has_bad_characters(key):
                    return "a key that is not a storable string"
                stack.append((child, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)
        else:
            return f"a value of type {type(item).__name__}"
    return None


def _has_bad_characters(text: str) -> bool:
    return _BAD_CHARACTERS.search(text) is not None

