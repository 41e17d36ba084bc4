"""Line and file conditions for the evaluation corpus: the formats users send and what real lines
do to them. A condition turns a clean 16 kHz stereo call into the bytes of a recording file;
its random draws (noise level, echo delay and gain…) come from the call's seed.

Codecs: 16 kHz and 8 kHz PCM WAV, 8 kHz μ-law and A-law WAV, 8 kHz MP3 at 16/24/32 kbit/s,
16 kHz AAC in M4A at 24/48 kbit/s, Opus at 16 kbit/s a channel in Ogg and in WebM (libopus folds a
stereo stream of 16 kbit/s in all to mono, which would put both parties on both channels), FLAC. Lines: white,
pink, babble (other voices mixed low) and mains-hum noise at −45…−30 dBFS; cross-channel echo
−30…−15 dB with 10–250 ms delay through a telephone band; both together; levels from −30 dBFS
peaks to clipping.
"""
from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import av
import numpy as np
from scipy.signal import butter, sosfilt

from tests.eval import lines as bank
from tests.eval.voices import AI_VOICES, RATE, USER_VOICES, synthesise
from tests.support.callgen import resample


@dataclass(frozen=True)
class Condition:
    name: str
    codec: str = "wav16"           # see CODECS
    noise: str | None = None       # white | pink | babble | hum
    echo: bool = False
    level: str | None = None       # quiet | hot


CODECS = {
    # name: (container, codec, rate, bit rate)
    "wav16": ("wav", "pcm_s16le", 16000, None),
    "wav8": ("wav", "pcm_s16le", 8000, None),
    "ulaw8": ("wav", "pcm_mulaw", 8000, None),
    "alaw8": ("wav", "pcm_alaw", 8000, None),
    "mp3-16k": ("mp3", "libmp3lame", 8000, 16000),
    "mp3-24k": ("mp3", "libmp3lame", 8000, 24000),
    "mp3-32k": ("mp3", "libmp3lame", 8000, 32000),
    "m4a-24k": ("ipod", "aac", 16000, 24000),
    "m4a-48k": ("ipod", "aac", 16000, 48000),
    "opus-ogg": ("ogg", "libopus", 16000, 32000),     # 16 kbit/s a channel
    "opus-webm": ("webm", "libopus", 16000, 32000),
    "flac": ("flac", "flac", 16000, None),
}
SUFFIX = {"wav": "wav", "mp3": "mp3", "ipod": "m4a", "ogg": "ogg", "webm": "webm", "flac": "flac"}

CONDITIONS = (
    Condition("wav-16k"),
    Condition("wav-8k", "wav8"),
    Condition("ulaw-8k", "ulaw8"),
    Condition("alaw-8k", "alaw8"),
    Condition("mp3-8k-16kbps", "mp3-16k"),
    Condition("mp3-8k-24kbps", "mp3-24k"),
    Condition("mp3-8k-32kbps", "mp3-32k"),
    Condition("m4a-16k-24kbps", "m4a-24k"),
    Condition("m4a-16k-48kbps", "m4a-48k"),
    Condition("opus-ogg-16kbps", "opus-ogg"),
    Condition("opus-webm-16kbps", "opus-webm"),
    Condition("flac-16k", "flac"),
    Condition("white-noise", noise="white"),
    Condition("pink-noise", noise="pink"),
    Condition("babble", noise="babble"),
    Condition("mains-hum", noise="hum"),
    Condition("echo", echo=True),
    Condition("noise+echo", noise="pink", echo=True),
    Condition("noise+echo mp3-8k-24kbps", "mp3-24k", noise="white", echo=True),
    Condition("quiet -30dBFS", level="quiet"),
    Condition("hot clipping", level="hot"),
)
BY_NAME = {c.name: c for c in CONDITIONS}


def _white(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.standard_normal(n).astype(np.float32)


def _pink(rng: np.random.Generator, n: int) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    return np.fft.irfft(spectrum, n).astype(np.float32)


def _hum(rng: np.random.Generator, n: int) -> np.ndarray:
    mains = float(rng.choice([50.0, 60.0]))
    t = np.arange(n) / RATE
    wave_ = sum((0.7 ** k) * np.sin(2 * np.pi * mains * (k + 1) * t + rng.uniform(0, 6.3)) for k in range(12))
    return (wave_ + 0.05 * rng.standard_normal(n)).astype(np.float32)


def _babble(rng: np.random.Generator, n: int, exclude: set[str]) -> np.ndarray:
    """Three other voices talking continuously (lines of the tuning half of the bank)."""
    talkers = [v for v in AI_VOICES + USER_VOICES if v not in exclude]
    picks = [str(v) for v in rng.choice(talkers, size=3, replace=False)]
    texts = list(bank.split(bank.AI_LINES, False) + bank.split(bank.USER_LINES, False))
    mix = np.zeros(n, np.float32)
    for voice in picks:
        chosen = [str(t) for t in rng.choice(texts, size=12)]
        clips = synthesise([(voice, t, 1.0) for t in chosen])
        stream = np.concatenate([clips[(voice, t, 1.0)] for t in chosen])
        reps = int(np.ceil(n / len(stream)))
        stream = np.tile(stream, reps)
        offset = int(rng.integers(0, len(stream) - n + 1))
        mix += stream[offset:offset + n]
    return mix


def add_noise(audio: np.ndarray, kind: str, rng: np.random.Generator, voices: set[str]) -> tuple[np.ndarray, dict]:
    out = audio.copy()
    levels = []
    for channel in range(audio.shape[0]):
        dbfs = float(rng.uniform(-45, -30))
        n = audio.shape[1]
        noise = {"white": _white, "pink": _pink, "hum": _hum}[kind](rng, n) if kind != "babble" \
            else _babble(rng, n, voices)
        noise *= np.float32(10 ** (dbfs / 20) / (np.sqrt(np.mean(noise.astype(np.float64) ** 2)) + 1e-12))
        out[channel] += noise
        levels.append(round(dbfs, 1))
    return out, {"noise": kind, "noise_dbfs": levels}


def add_echo(audio: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """Each channel also carries the other party through a telephone band, attenuated and late."""
    sos = butter(2, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    out = audio.copy()
    info = []
    for channel in (0, 1):
        db, delay = float(rng.uniform(-30, -15)), float(rng.uniform(0.010, 0.250))
        shift = int(delay * RATE)
        other = sosfilt(sos, audio[1 - channel]).astype(np.float32) * np.float32(10 ** (db / 20))
        out[channel, shift:] += other[:audio.shape[1] - shift]
        info.append({"db": round(db, 1), "delay_ms": round(delay * 1000)})
    return out, {"echo": info}


def set_level(audio: np.ndarray, level: str, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    peak = float(np.abs(audio).max()) or 1.0
    target = -30.0 if level == "quiet" else float(rng.uniform(3, 9))   # dBFS of the loudest peak
    return audio * np.float32(10 ** (target / 20) / peak), {"peak_dbfs": round(target, 1)}


def encode(audio: np.ndarray, codec: str) -> tuple[bytes, str]:
    """The call as a file in `codec` (CODECS); returns (bytes, suffix). Samples beyond full scale
    clip, as in any real export."""
    container, name, rate, bit_rate = CODECS[codec]
    pcm = np.clip(audio, -1, 1).astype(np.float32)
    if rate != RATE:
        pcm = np.stack([resample(ch, RATE, rate) for ch in pcm])
    if container == "wav" and name == "pcm_s16le":
        buf = io.BytesIO()
        with wave.open(buf, "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((pcm.T * 32767).astype("<i2").tobytes())
        return buf.getvalue(), "wav"
    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(name, rate=rate, layout="stereo")
        if bit_rate:
            stream.bit_rate = bit_rate
        step = 960
        for start in range(0, pcm.shape[1], step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, start:start + step]), format="fltp",
                                               layout="stereo")
            frame.sample_rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue(), SUFFIX[container]


def apply(audio: np.ndarray, condition: Condition, seed: int, voices: set[str]) -> tuple[bytes, str, dict]:
    """(file bytes, suffix, what was drawn) for one call under one condition."""
    rng = np.random.default_rng([seed, sum(map(ord, condition.name))])
    info: dict = {}
    if condition.echo:
        audio, drawn = add_echo(audio, rng)
        info.update(drawn)
    if condition.noise:
        audio, drawn = add_noise(audio, condition.noise, rng, voices)
        info.update(drawn)
    if condition.level:
        audio, drawn = set_level(audio, condition.level, rng)
        info.update(drawn)
    data, suffix = encode(audio, condition.codec)
    return data, suffix, info


