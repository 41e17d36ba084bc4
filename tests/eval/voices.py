"""Text-to-speech for the evaluation corpus: three engines from Debian's packages, many voices.

A voice is named `engine:name` — `espeak:en-us+f3`, `flite:slt`, `festival:kal_diphone`. Every
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


def available() -> bool:
    return all(shutil.which(binary) for binary, _ in PACKAGES.values())


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
                if engine == "festival":
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
