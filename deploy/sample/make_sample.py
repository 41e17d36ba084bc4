"""Regenerates the bundled sample call (deploy/sample/): a two-party stereo telephone call
(8 kHz, AI on the left channel, caller on the right) spoken by espeak-ng, plus its transcript
with the exact times each utterance was placed at. Run: python deploy/sample/make_sample.py
(needs espeak-ng; the outputs are committed so deploy/dev.sh does not need it)."""
from __future__ import annotations

import json
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 8000
HERE = Path(__file__).resolve().parent
# (role, voice, start second, text)
SCRIPT = [
    ("AI Assistant", "en-us+f3", 0.6, "Thank you for calling Harbor Dental. This is Ava. How can I help you today?"),
    ("User", "en-gb+m3", 6.1, "Hi, I need to move my cleaning appointment to next week."),
    ("AI Assistant", "en-us+f3", 10.2, "Of course. Can I have your date of birth to find your booking?"),
    ("User", "en-gb+m3", 14.4, "March third, nineteen eighty five."),
    ("AI Assistant", "en-us+f3", 17.8, "Thanks. I see you on Tuesday at ten. Would Thursday at two work instead?"),
    ("User", "en-gb+m3", 21.6, "Actually, is there anything in the morning?"),
    ("AI Assistant", "en-us+f3", 25.3, "Yes, Thursday at nine is open. Shall I book it?"),
    ("User", "en-gb+m3", 31.2, "Yes please."),
    ("AI Assistant", "en-us+f3", 32.6, "Done. You are booked for Thursday at nine. Goodbye!"),
]


def speak(text: str, voice: str) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", tmp.name, text], check=True)
        with wave.open(tmp.name) as w:
            rate, audio = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    audio = np.interp(np.arange(0, len(audio), rate / RATE), np.arange(len(audio)), audio.astype(np.float32))
    voiced = np.flatnonzero(np.abs(audio) > 300)
    return audio[voiced[0]:voiced[-1] + 1]  # trim espeak's leading/trailing silence


def main() -> None:
    utterances = [(role, start, text, speak(text, voice)) for role, voice, start, text in SCRIPT]
    end = max(start + len(a) / RATE for _, start, _, a in utterances) + 1.0
    stereo = np.zeros((int(end * RATE), 2), dtype=np.float32)
    transcript = []
    for role, start, text, audio in utterances:
        channel = 0 if role == "AI Assistant" else 1
        offset = int(start * RATE)
        stereo[offset:offset + len(audio), channel] += audio
        transcript.append({"role": role, "content": text, "start_time": round(start, 3),
                           "end_time": round(start + len(audio) / RATE, 3)})
        if role == "User" and "move my cleaning" in text:
            transcript.append({"role": "Function Call", "content": "",
                               "data": {"id": "call_1", "name": "find_booking", "arguments": {"patient": "caller"}}})
    with wave.open(str(HERE / "sample-call.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.clip(stereo, -32768, 32767).astype("<i2").tobytes())
    (HERE / "sample-call.json").write_text(json.dumps({"transcript": transcript, "duration_seconds": int(end)},
                                                      indent=2) + "\n")


if __name__ == "__main__":
    main()
