"""Regenerates the bundled sample call (deploy/sample/): a two-party stereo telephone call
(8 kHz, AI on the left channel, caller on the right) spoken by espeak-ng with the synthetic call
generator of the tests, plus its transcript with the exact times each utterance was placed at.
Run from the repository root: python deploy/sample/make_sample.py (needs espeak-ng; the outputs
are committed so deploy/dev.sh does not need it)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from tests.support.callgen import Line, render, to_rate, wav_bytes  # noqa: E402

# (party, start second, text)
SCRIPT = [
    ("ai", 0.6, "Thank you for calling Harbor Dental. This is Ava. How can I help you today?"),
    ("user", 6.1, "Hi, I need to move my cleaning appointment to next week."),
    ("ai", 10.2, "Of course. Can I have your date of birth to find your booking?"),
    ("user", 14.4, "March third, nineteen eighty five."),
    ("ai", 17.8, "Thanks. I see you on Tuesday at ten. Would Thursday at two work instead?"),
    ("user", 21.6, "Actually, is there anything in the morning?"),
    ("ai", 25.3, "Yes, Thursday at nine is open. Shall I book it?"),
    ("user", 31.2, "Yes please."),
    ("ai", 32.6, "Done. You are booked for Thursday at nine. Goodbye!"),
]
ROLES = {"ai": "AI Assistant", "user": "User"}


def main() -> None:
    call = render([Line(party, start, text) for party, start, text in SCRIPT])
    spans = {party: iter(call.truth[party]) for party in ROLES}
    transcript = []
    for party, _, text in SCRIPT:
        start, end = next(spans[party])
        transcript.append({"role": ROLES[party], "content": text, "start_time": round(start, 3),
                           "end_time": round(end, 3)})
        if "move my cleaning" in text:
            transcript.append({"role": "Function Call", "content": "",
                               "data": {"id": "call_1", "name": "find_booking", "arguments": {"patient": "caller"}}})
    (HERE / "sample-call.wav").write_bytes(wav_bytes(to_rate(call, 8000)))
    duration = int(call.audio.shape[1] / call.rate)
    (HERE / "sample-call.json").write_text(json.dumps({"transcript": transcript, "duration_seconds": duration},
                                                      indent=2) + "\n")


if __name__ == "__main__":
    main()
