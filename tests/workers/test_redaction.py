"""Redaction before LLM judging (docs/metrics.md#redaction): what is masked and what is kept."""
from __future__ import annotations

import pytest

from workers.judges.redaction import redact_text, redact_transcript


@pytest.mark.parametrize("text, expected", [
    ("Call me on +1 (415) 555-0132 tomorrow", "Call me on [PHONE] tomorrow"),
    ("it's 415-555-0132.", "it's [PHONE]."),
    ("+44 20 7946 0958 or 020 7946 0958", "[PHONE] or [PHONE]"),
    ("my number is 4 1 5 5 5 5 0 1 3 2", "my number is [PHONE]"),       # digits read out one by one
    ("card 4111 1111 1111 1111 exp 12/27", "card [CARD] exp 12/27"),
    ("4111-1111-1111-1111 and 378282246310005", "[CARD] and [CARD]"),  # Visa test number, Amex test number
    ("1234 5678 9012 3456", "[PHONE]"),                                 # misheard card (bad checksum): masked all the same
    ("write to jane.doe+billing@mail.example.co.uk please", "write to [EMAIL] please"),
    # kept: what the judge needs and identifies no one
    ("on 2026-01-02 at 10:30 we charged $1,234.56 for 3 items", "on 2026-01-02 at 10:30 we charged $1,234.56 for 3 items"),
    ("order 12345, PIN 4821, version 1.2.3, room 101", "order 12345, PIN 4821, version 1.2.3, room 101"),
    ("It is ABC one two three", "It is ABC one two three"),  # spoken as words: not masked (documented)
])
def test_what_is_masked(text, expected):
    assert redact_text(text) == expected


def test_the_transcript_copy_masks_content_and_tool_data_and_keeps_the_rest():
    transcript = [
        {"role": "User", "content": "I'm at bob@example.com", "start_time": 1.0, "end_time": 2.0},
        {"role": "Function Call", "data": {"name": "lookup", "args": {"phone": "+1 415 555 0132", "n": 3,
                                                                    "cards": ["4111111111111111"]}}},
    ]
    redacted = redact_transcript(transcript)
    assert redacted == [
        {"role": "User", "content": "I'm at [EMAIL]", "start_time": 1.0, "end_time": 2.0},
        {"role": "Function Call", "data": {"name": "lookup", "args": {"phone": "[PHONE]", "n": 3, "cards": ["[CARD]"]}}},
    ]
    assert transcript[0]["content"] == "I'm at bob@example.com"  # the stored transcript is untouched
