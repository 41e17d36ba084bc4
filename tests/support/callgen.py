"""Synthetic stereo calls with exact ground truth, for the audio-metric accuracy tests.

Each party's utterances are spoken by espeak-ng (a different voice per party), trimmed to their
audible extent and placed at millisecond offsets on their own channel (AI left, user right).
The truth is the placement itself: every utterance is one speech segment [start, start + length]
(utterances are single clauses, so espeak's word gaps stay far below the 300 ms merge gap).
A barge-in is made by cutting the AI's utterance at a known instant after the user starts.

Variants reproduce what real lines do: resampling to 8 kHz, MP3 and M4A encoding, background
noise at a given dBFS, and cross-channel echo bleed at a given attenuation.
"""
from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

RATE = 16000
VOICES = {"ai": "en-us+f3", "user": "en-gb+m3"}
CACHE = Path(tempfile.gettempdir()) / "callscope-espeak-cache-v2"


@dataclass(frozen=True)
class Line:
    party: str                 # "ai" | "user"
    start: float               # seconds
    text: str
    cut_at: float | None = None  # seconds from call start: the party stops speaking here
    voice: str | None = None     # an espeak voice other than the party's (a voice change)


@dataclass
class SynthCall:
    audio: np.ndarray          # (2, n) float32 at `rate`, AI left
    rate: int
    truth: dict[str, list[tuple[float, float]]]
    lines: list[Line]

    def words(self) -> dict[str, int]:
        return {p: sum(len(line.text.split()) for line in self.lines if line.party == p) for p in ("ai", "user")}


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def resample(x: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited resampling of a mono signal with FFmpeg's resampler; the length is exactly
    len(x) · dst / src (rounded), so channels resampled apart stay aligned."""
    if src == dst:
        return x.astype(np.float32)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=dst)
    frame = av.AudioFrame.from_ndarray(x.astype(np.float32)[None, :], format="flt", layout="mono")
    frame.sample_rate, frame.pts = src, 0
    out = [f.to_ndarray()[0] for f in resampler.resample(frame)] + [f.to_ndarray()[0] for f in resampler.resample(None)]
    y = np.concatenate(out) if out else np.zeros(0, np.float32)
    want = int(round(len(x) * dst / src))
    return np.pad(y, (0, max(0, want - len(y))))[:want]


def speak(text: str, party: str, voice: str | None = None) -> np.ndarray:
    """espeak-ng speech at RATE, trimmed to its audible extent (cached on disk)."""
    voice = voice or VOICES[party]
    key = hashlib.sha1(f"{voice}|{text}".encode()).hexdigest()[:16]
    cached = CACHE / f"{key}.npy"
    if cached.exists():
        return np.load(cached)
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        subprocess.run(["espeak-ng", "-v", voice, "-s", "170", "-w", tmp.name, text], check=True,
                       capture_output=True)
        with wave.open(tmp.name) as w:
            src = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float32) / 32768
    audio = resample(pcm, src, RATE)
    audio = audio * (0.5 / max(1e-6, np.abs(audio).max()))
    audio = audible(audio)
    np.save(cached, audio)
    return audio


AUDIBLE = 0.005  # −46 dBFS: the truth's edge of speech, the same rule for every clip edge


def audible(clip: np.ndarray) -> np.ndarray:
    """The clip from its first to its last sample above AUDIBLE."""
    loud = np.flatnonzero(np.abs(clip) > AUDIBLE)
    return clip[loud[0]:loud[-1] + 1] if len(loud) else clip[:0]


def render(lines: list[Line], tail: float = 1.0) -> SynthCall:
    """Place each line on its party's channel at 16 kHz; returns audio and per-party truth."""
    clips = [(line, speak(line.text, line.party, line.voice)) for line in lines]
    end = max(line.start + len(clip) / RATE for line, clip in clips) + tail
    audio = np.zeros((2, int(end * RATE) + 1), np.float32)
    truth: dict[str, list[tuple[float, float]]] = {"ai": [], "user": []}
    for line, clip in clips:
        if line.cut_at is not None:
            keep = int(round((line.cut_at - line.start) * RATE))
            fade = min(keep, int(0.01 * RATE))  # 10 ms fade: a click-free stop, as a TTS being cut
            clip = clip[:keep].copy()
            clip[keep - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
            # the party stops here; if the cut falls in a pause between words, speech ended before
            clip = audible(clip)
        offset = int(round(line.start * RATE))
        channel = 0 if line.party == "ai" else 1
        audio[channel, offset:offset + len(clip)] += clip
        truth[line.party].append((line.start, line.start + len(clip) / RATE))
    return SynthCall(audio, RATE, truth, lines)


# ---- line conditions --------------------------------------------------------------------

def to_rate(call: SynthCall, rate: int) -> SynthCall:
    return SynthCall(np.stack([resample(ch, call.rate, rate) for ch in call.audio]), rate, call.truth, call.lines)


def with_noise(call: SynthCall, dbfs: float, seed: int = 7) -> SynthCall:
    """Independent white noise on each channel at `dbfs` RMS."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(call.audio.shape).astype(np.float32) * np.float32(10 ** (dbfs / 20))
    return SynthCall(call.audio + noise, call.rate, call.truth, call.lines)


def with_echo(call: SynthCall, db: float, delay_ms: float = 20.0) -> SynthCall:
    """Each channel also carries the other party, attenuated by `db` and delayed (line echo)."""
    gain, shift = np.float32(10 ** (db / 20)), int(call.rate * delay_ms / 1000)
    bled = call.audio.copy()
    bled[0, shift:] += gain * call.audio[1, :len(call.audio[1]) - shift]
    bled[1, shift:] += gain * call.audio[0, :len(call.audio[0]) - shift]
    return SynthCall(bled, call.rate, call.truth, call.lines)


def telephone(x: np.ndarray, rate: int, kbps: int = 16) -> np.ndarray:
    """A mono signal through a telephone line: 8 kHz, 300–3400 Hz, low-bitrate MP3, back to `rate`."""
    from scipy.signal import butter, sosfiltfilt

    narrow = resample(x, rate, 8000)
    narrow = sosfiltfilt(butter(4, [300, 3400], btype="bandpass", fs=8000, output="sos"), narrow).astype(np.float32)
    coded = SynthCall(narrow[None], 8000, {}, [])
    buf = io.BytesIO(encoded_bytes(coded, "mp3", bitrate=kbps * 1000))
    with av.open(buf) as container:
        decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    return resample(decoded.astype(np.float32), 8000, rate)[:len(x)]


def with_telephone_line(call: SynthCall, from_second: float = 0.0, channels=(0, 1)) -> SynthCall:
    """The given channels go through a telephone line from `from_second` on."""
    audio = call.audio.copy()
    first = int(from_second * call.rate)
    for channel in channels:
        line = telephone(audio[channel, first:], call.rate)
        audio[channel, first:first + len(line)] = line
    return SynthCall(audio, call.rate, call.truth, call.lines)


def louder(call: SynthCall, db: float) -> SynthCall:
    return SynthCall(call.audio * np.float32(10 ** (db / 20)), call.rate, call.truth, call.lines)


# ---- files ------------------------------------------------------------------------------

def wav_bytes(call: SynthCall) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(call.audio.shape[0])
        w.setsampwidth(2)
        w.setframerate(call.rate)
        w.writeframes((np.clip(call.audio.T, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def encoded_bytes(call: SynthCall, fmt: str, bitrate: int = 64000) -> bytes:
    """MP3 or AAC-in-M4A (64 kbit/s unless told), with explicit timestamps (encoder delay
    trimmed on decode)."""
    codec, container = {"mp3": ("libmp3lame", "mp3"), "m4a": ("aac", "ipod")}[fmt]
    buf = io.BytesIO()
    layout = "stereo" if call.audio.shape[0] == 2 else "mono"
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=call.rate, layout=layout)
        stream.bit_rate = bitrate
        pcm = np.ascontiguousarray(np.clip(call.audio, -1, 1))
        for start in range(0, pcm.shape[1], 1152):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, start:start + 1152]), format="fltp",
                                               layout=layout)
            frame.sample_rate, frame.pts = call.rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


# ---- scripts ----------------------------------------------------------------------------

def build_lines(steps: list[tuple]) -> list[Line]:
    """Lines from conversational steps, using the real clip lengths:
    ("say", party, gap_s, text)            — starts gap_s after the previous line ends (may be < 0)
    ("barge", party, before_end_s, stop_after_s, text) — starts before_end_s before the previous
                                             line ends; that line is cut stop_after_s after
    ("backchannel", party, after_start_s, text) — a short line inside the previous line
    """
    lines: list[Line] = []
    cursor, last = 0.5, None
    for step in steps:
        kind, party = step[0], step[1]
        if kind == "say":
            start = cursor + step[2]
            line = Line(party, round(start, 3), step[3])
        elif kind == "barge":
            start = cursor - step[2]
            cut = round(start + step[3], 3)
            lines[lines.index(last)] = Line(last.party, last.start, last.text, cut_at=cut)
            line = Line(party, round(start, 3), step[4])
        else:  # backchannel: does not move the cursor
            lines.append(Line(party, round(last.start + step[2], 3), step[3]))
            continue
        lines.append(line)
        last = line
        cursor = line.start + len(speak(line.text, party)) / RATE
    return lines


STANDARD_STEPS = [
    ("say", "ai", 0.0, "Thank you for calling Harbor Dental how can I help you today"),
    ("say", "user", 0.65, "Hi I would like to move my cleaning appointment to next week"),
    ("say", "ai", 0.9, "Of course can I have your date of birth please"),
    ("say", "user", 0.5, "It is the third of March nineteen eighty five"),
    ("say", "ai", 1.3,
     "Thank you I can see your appointment on Tuesday morning at ten and I can offer you Thursday afternoon instead"),
    ("backchannel", "user", 1.6, "okay"),
    ("barge", "user", 1.5, 0.7, "Sorry is there anything in the morning"),
    ("say", "ai", 0.8, "Yes Thursday at nine is available shall I book that"),
    ("say", "user", 3.2, "Yes please book it"),
    ("say", "ai", 0.6, "All done you are booked for Thursday at nine"),
    ("say", "user", 0.7, "Great and can you also send me a reminder by text message the day before"),
    ("backchannel", "ai", 1.2, "right"),
    ("say", "ai", 0.7, "Certainly you will get a text reminder the day before goodbye"),
]

# A second conversation with other words, rhythm and overlaps, so that tuning on one script
# cannot pass for accuracy.
ALTERNATE_STEPS = [
    ("say", "ai", 0.0, "Good afternoon you have reached City Bikes support"),
    ("say", "user", 0.45, "Hello my bike was stolen last night"),
    ("say", "ai", 1.1, "I am sorry to hear that do you have your membership number"),
    ("backchannel", "user", 1.9, "yes"),
    ("say", "user", 0.35, "It is four four seven two nine"),
    ("say", "ai", 2.6, "Thanks I have blocked the bike and opened a theft report for you"),
    ("barge", "user", 1.1, 0.45, "Will I be charged for it"),
    ("say", "ai", 0.55, "No you will not be charged while the report is open"),
    ("say", "user", 0.9, "Okay thank you very much"),
    ("say", "ai", 0.5, "You are welcome have a safe evening"),
]

# A longer call for the voice metrics: ten AI utterances, each answered by the user.
VOICE_AI_LINES = [
    "Thank you for calling Harbor Dental how can I help you today",
    "Of course can I have your date of birth please",
    "Thank you I can see your appointment on Tuesday morning at ten",
    "I can offer you Thursday afternoon instead",
    "Yes Thursday at nine is available shall I book that",
    "All done you are booked for Thursday at nine",
    "Certainly you will get a text reminder the day before",
    "Is there anything else I can help you with today",
    "Your insurance details are already on file",
    "Have a wonderful day and goodbye",
]
VOICE_USER_LINES = ["Hi I would like to move my appointment", "It is the third of March",
                    "Is there anything in the morning", "Yes please book it", "Can you send me a reminder",
                    "Great thank you", "No that is all", "Okay", "Thanks", "Bye"]
OTHER_AI_VOICE = "en+m2"


def voice_call(switch_after: int | None = None, voice: str = OTHER_AI_VOICE, ai_lines=VOICE_AI_LINES) -> SynthCall:
    """The voice call; with `switch_after`, AI utterances after that many use another voice."""
    steps = [step for ai, user in zip(ai_lines, VOICE_USER_LINES)
             for step in (("say", "ai", 0.6, ai), ("say", "user", 0.6, user))]
    lines, spoken = [], 0
    for line in build_lines(steps):
        if line.party == "ai":
            spoken += 1
            if switch_after is not None and spoken > switch_after:
                line = Line(line.party, line.start, line.text, line.cut_at, voice)
        lines.append(line)
    return render(lines)
