"""Voices for the evaluation corpus: three TTS engines and recorded human speech, all from Debian's packages.

A voice is named `engine:name` — `espeak:en-us+f3`, `flite:slt`, `festival:kal_diphone`, or
`recorded:en_US_f_Allison` for a speaker of the Asterisk prompt sets (below). Every
clip is synthesised once and cached on disk as float32 at 16 kHz (the corpus master rate), peak
normalised to 0.5; festival runs one process per batch of lines (its start-up costs ~0.5 s).
Nothing is downloaded: espeak-ng, flite, festival and the festvox voices are apt packages
(deploy/test.sh installs them for the test slice).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import numpy as np

from tests.support.callgen import resample

RATE = 16000
CACHE = Path(os.environ.get("CALLSCOPE_EVAL_CACHE", Path(tempfile.gettempdir()) / "callscope-eval-tts-v1"))

# At least six voices from three engines per party. The pools overlap only in engines, never in
# a voice, so the two channels of a call always sound different.
AI_VOICES = ("espeak:en-us+f3", "espeak:en-gb-x-rp+f4", "flite:slt", "flite:rms",
             "festival:cmu_us_slt_arctic_hts", "festival:kal_diphone")
USER_VOICES = ("espeak:en-gb+m3", "espeak:en-us+m1", "espeak:en-gb-scotland+f2", "flite:awb", "flite:kal16",
               "festival:ked_diphone")
PACKAGES = {"espeak": ("espeak-ng", "espeak-ng"), "flite": ("flite", "flite"),
            "festival": ("festival", "festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts")}


# Recorded human speech: the Asterisk PBX prompt sets (apt asterisk-core-sounds-*-wav and
# asterisk-prompt-it-menardi-wav, CC-BY-SA 3.0 / GPL). Five people recorded in studios and offices,
# 8 kHz 16-bit telephone audio, each with the floor of their own room (−97 to −43 dBFS): real
# breathing, soft onsets and decays that no TTS engine makes. A "line" of such a voice is a prompt's
# path under the speaker's folder. Allison Smith recorded both the English and the Mexican Spanish
# set; she is on the agent side in one and the caller side in the other.
RECORDED = Path("/usr/share/asterisk/sounds")
RECORDED_AI_VOICES = ("recorded:en_US_f_Allison", "recorded:fr_CA_f_June", "recorded:it_IT_f_Menardi")
RECORDED_USER_VOICES = ("recorded:it_IT_m_Carlo", "recorded:ru_RU_f_IvrvoiceRU", "recorded:es_MX_f_Allison")
_NOT_SPEECH = ("beep", "tone", "monkeys", "glorious", "jingle")   # tones, music and animal noises
FLOOR_FRAME = 160                                                   # 10 ms at RATE


def available() -> bool:
    return all(shutil.which(binary) for binary, _ in PACKAGES.values())


def recorded_available() -> bool:
    return all((RECORDED / voice.split(":", 1)[1]).is_dir() for voice in RECORDED_AI_VOICES + RECORDED_USER_VOICES)


@cache
def _prompts(voice: str) -> tuple[tuple[str, float], ...]:
    """(path under the speaker's folder, seconds) of every spoken prompt, sorted by path."""
    folder = RECORDED / voice.split(":", 1)[1]
    found = []
    for path in sorted(folder.glob("*.wav")) + sorted(folder.glob("digits/*.wav")):
        if any(word in path.name for word in _NOT_SPEECH):
            continue
        with wave.open(str(path)) as w:
            if w.getnframes() >= w.getframerate() // 10:
                found.append((str(path.relative_to(folder)), w.getnframes() / w.getframerate()))
    return tuple(found)


def recorded_lines(voice: str, shortest: float, longest: float, digits: bool = False) -> list[str]:
    """Prompts of one speaker lasting `shortest`–`longest` s (file length, before trimming);
    `digits` picks the short number words (the corpus's backchannels) instead of sentences."""
    return [name for name, seconds in _prompts(voice)
            if name.startswith("digits/") == digits and shortest <= seconds <= longest]


def _pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(np.float64) / 32768


@cache
def _room_floor(voice: str) -> float:
    """RMS of a speaker's room: per prompt, the 2nd percentile of its 10 ms frame powers (its
    quietest pause); the median over the speaker's prompts, since many prompts hold no pause at all."""
    folder = RECORDED / voice.split(":", 1)[1]
    floors = []
    for name, seconds in _prompts(voice):
        if 0.2 <= seconds <= 10:
            pcm = _pcm(folder / name)
            frames = pcm[:len(pcm) // 80 * 80].reshape(-1, 80)   # 10 ms at 8 kHz
            floors.append(np.percentile((frames ** 2).mean(axis=1), 2))
    return float(np.sqrt(np.median(floors)))


def recorded_floor(voice: str, name: str) -> float:
    """The speaker's room floor on the scale of the normalised clip of prompt `name`."""
    peak = float(np.abs(_pcm(RECORDED / voice.split(":", 1)[1] / name)).max())
    return _room_floor(voice) * 0.5 / max(peak, 1e-6)


def _key(voice: str, text: str, stretch: float) -> Path:
    return CACHE / (hashlib.sha1(f"{voice}|{stretch:.2f}|{text}".encode()).hexdigest()[:20] + ".npy")


def _read_wav(path: str) -> np.ndarray:
    with wave.open(path) as w:
        rate, width = w.getframerate(), w.getsampwidth()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16 if width == 2 else np.uint8)
        if w.getnchannels() > 1:
            pcm = pcm.reshape(-1, w.getnchannels())[:, 0]
    x = pcm.astype(np.float32) / 32768 if width == 2 else (pcm.astype(np.float32) - 128) / 128
    return resample(x, rate, RATE)


def _normalised(x: np.ndarray) -> np.ndarray:
    return (x * (0.5 / max(1e-6, float(np.abs(x).max())))).astype(np.float32)


def _espeak(name: str, text: str, stretch: float, out: str) -> None:
    speed = str(int(round(170 / stretch)))
    subprocess.run(["espeak-ng", "-v", name, "-s", speed, "-w", out, text], check=True, capture_output=True)


def _flite(name: str, text: str, stretch: float, out: str) -> None:
    subprocess.run(["flite", "-voice", name, "--setf", f"duration_stretch={stretch:.2f}", "-t", text, "-o", out],
                   check=True, capture_output=True)


def _festival_batch(name: str, items: list[tuple[str, float, Path]], workdir: str) -> None:
    """One festival process synthesises every line of one voice."""
    script = [f"(voice_{name})"]
    outputs = []
    for index, (text, stretch, _) in enumerate(items):
        out = os.path.join(workdir, f"{name}-{index}.wav")
        quoted = text.replace("\\", " ").replace('"', " ")
        script.append(f"(Parameter.set 'Duration_Stretch {stretch:.2f})")
        script.append(f'(utt.save.wave (SynthText "{quoted}") "{out}" \'riff)')
        outputs.append(out)
    path = os.path.join(workdir, f"{name}.scm")
    Path(path).write_text("\n".join(script) + "\n")
    subprocess.run(["festival", "--batch", path], check=True, capture_output=True, timeout=1800)
    for (_, _, cached), out in zip(items, outputs):
        np.save(cached, _normalised(_read_wav(out)))


def synthesise(requests: list[tuple[str, str, float]]) -> dict[tuple[str, str, float], np.ndarray]:
    """{(voice, text, stretch): clip} for every request, synthesising what the cache lacks."""
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = sorted({r for r in requests if not _key(*r).exists()})
    if missing:
        with tempfile.TemporaryDirectory() as workdir:
            festival: dict[str, list[tuple[str, float, Path]]] = {}
            simple = []
            for voice, text, stretch in missing:
                engine, name = voice.split(":", 1)
                if engine == "recorded":      # a person's recording is played as it is: no rate change
                    np.save(_key(voice, text, stretch), _normalised(_read_wav(str(RECORDED / name / text))))
                elif engine == "festival":
                    festival.setdefault(name, []).append((text, stretch, _key(voice, text, stretch)))
                else:
                    simple.append((engine, name, text, stretch, _key(voice, text, stretch)))

            def run_simple(item):
                engine, name, text, stretch, cached = item
                out = os.path.join(workdir, cached.stem + ".wav")
                (_espeak if engine == "espeak" else _flite)(name, text, stretch, out)
                np.save(cached, _normalised(_read_wav(out)))

            with ThreadPoolExecutor(max_workers=2) as pool:
                jobs = [pool.submit(_festival_batch, name, items, workdir) for name, items in festival.items()]
                jobs += [pool.submit(run_simple, item) for item in simple]
                for job in jobs:
                    job.result()
    return {r: np.load(_key(*r)) for r in set(requests)}
