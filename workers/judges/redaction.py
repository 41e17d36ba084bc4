"""Masking personal data in the transcript an LLM judge reads (docs/metrics.md#redaction).

A metric with `redact: true` is judged on a copy of the transcript in which e-mail addresses,
payment card numbers and phone numbers are replaced by `[EMAIL]`, `[CARD]` and `[PHONE]` —
in every turn's `content` and in every string inside tool-call `data`. The stored transcript
is never changed. Pure functions: no I/O.

What is masked, and the trade-offs:
- e-mail: `local@domain.tld` with the usual characters; the whole address goes.
- numbers: a run of digits, optionally led by `+` and split by single spaces, dots, hyphens or
  parentheses (`+1 (415) 555-0132`, `4111 1111 1111 1111`, `4 1 5 5 5 5 …`), is a card when it
  has 13 to 19 digits and its Luhn checksum holds, else a phone when it has 7 to 19 digits (E.164
  phones have up to 15; longer runs may be misheard card numbers). Shorter numbers — prices,
  times, quantities, a 4-digit PIN — are kept: the judge needs them and they identify no one
  alone. ISO dates (`2026-01-02`) are not numbers here. Other long digit runs (a 10-digit order
  number, a decimal with many places) are masked as phones: better one too many.
Not masked: numbers spoken as words ("four one five …"), names and street addresses — this is
a pattern filter, not an entity recogniser.
"""
from __future__ import annotations

import re
from typing import Any

EMAIL = "[EMAIL]"
CARD = "[CARD]"
PHONE = "[PHONE]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# a digit run with single separators between digits; it never starts inside a word or a number,
# nor at an ISO date
_NUMBER = re.compile(r"(?<![\w+])(?!\d{4}-\d{2}-\d{2}(?!\d))\+?\(?\d(?:(?:[ .-]|\) ?| ?\()?\d)*\)?")


def redact_text(text: str) -> str:
    """`text` with e-mail addresses, card numbers and phone numbers masked."""
    return _NUMBER.sub(_mask_number, _EMAIL.sub(EMAIL, text))


def _mask_number(match: re.Match) -> str:
    found = match.group(0)
    digits = sum(c.isdigit() for c in found)
    if 13 <= digits <= 19 and _luhn_valid(found):
        return CARD
    if 7 <= digits <= 19:  # a phone (E.164 has up to 15), or a card the recogniser misheard
        return PHONE
    return found


def redact_transcript(transcript: list[dict]) -> list[dict]:
    """A copy of the transcript with every string of every turn masked (roles and times kept)."""
    return [{key: (value if key == "role" else _redact_value(value)) for key, value in turn.items()}
            for turn in transcript]


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
    return value


def _luhn_valid(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0
