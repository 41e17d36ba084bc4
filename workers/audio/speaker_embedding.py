"""Speaker embeddings without torch: Resemblyzer's GE2E voice encoder run in numpy
(docs/metrics.md#voice-change-detection).

The `resemblyzer` wheel (Apache-2.0) ships `pretrained.pt`, a 17 MB checkpoint of a speaker
encoder trained with the generalised end-to-end loss: a 3-layer LSTM (40 → 256) whose last
hidden state goes through a 256 × 256 linear layer, a ReLU and an L2 norm. Its own code needs
torch (~800 MB); the worker only needs the forward pass, so the wheel is installed with
`--no-deps` and this module does the rest:

- **Weights**: the checkpoint is torch's legacy serialisation — a run of pickles (magic number,
  protocol, system info, the state dict, the storage keys) followed by each storage's raw
  little-endian bytes, preceded by its element count. `_CheckpointUnpickler` resolves only the
  three globals that such a pickle names (OrderedDict, FloatStorage, _rebuild_tensor_v2) to
  harmless local stand-ins and refuses every other global, so loading can never run code.
- **Front end**, as the package's audio.py: 16 kHz, a power mel spectrogram (not log) with a
  25-ms window (n_fft 400), 10-ms hop, 40 mel bands. The package raises quiet speech to −30 dBFS
  RMS and leaves loud speech alone; here every utterance is scaled to −30 dBFS both ways, so a
  line that turns quieter or louder does not move the (level-sensitive) power spectrum, and the
  line's floor is subtracted per band (`without_line_floor`). The filter bank is librosa's,
  cached; the spectrum matches librosa.feature.melspectrogram to 1e-6.
- **Partials**: as `embed_utterance` — 160-frame (1.6 s) windows at 1.3 a second, the last one
  kept when it covers ≥ 75 % (zero-padded); an utterance's embedding is the L2-normed mean of
  its partials' embeddings. A call's partials go through the LSTM in batches of 64.

No weights, no embedding: `encoder()` returns None when the wheel is not installed, and the
voice stage falls back to its hand-made features (nothing is ever downloaded). Without torch
the port cannot be compared with the package's output; tests/workers/test_speaker_embedding.py
and tests/bench/embedding_bench.py check what it is for instead: utterances of one voice lie
closer than those of two, on espeak voices and on recorded people (the two recordings of one
woman, in English and in Spanish, closest of all).
"""
from __future__ import annotations

import collections
import importlib.util
import pickle
import struct
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

RATE = 16000
N_FFT, HOP, N_MELS = 400, 160, 40      # 25 ms window, 10 ms hop, 40 mel bands (hparams.py)
PARTIAL_FRAMES = 160                   # 1.6 s of frames per partial utterance
PARTIAL_RATE = 1.3                     # partials per second of speech
MIN_COVERAGE = 0.75                    # a last partial this full is kept (zero-padded)
TARGET_DBFS = -30.0
FLOOR_PERCENTILE = 30                  # the line's floor per mel band (without_line_floor)
FLOOR_KEEP = 0.05
BATCH = 64                             # partials through the LSTM at once
_LSTM_LAYERS = 3
_MAGIC = 0x1950A86A20F9469CFC6C       # torch's legacy-format magic number
_ALLOWED_GLOBALS = {("collections", "OrderedDict"), ("torch", "FloatStorage"),
                    ("torch._utils", "_rebuild_tensor_v2")}


class CheckpointError(ValueError):
    """The file is not a checkpoint this loader reads (or names a global it refuses)."""


class _FloatStorage:
    """Stand-in for torch.FloatStorage: only a type tag in the pickle."""


def _rebuild_tensor(storage: tuple[str, int], offset: int, size: tuple, stride: tuple, *_: Any) -> tuple:
    # Storages are read after the pickle, so a tensor is a recipe until then.
    return ("tensor", storage, offset, tuple(size), tuple(stride))


class _CheckpointUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise CheckpointError(f"checkpoint names a global this loader refuses: {module}.{name}")
        return {"OrderedDict": collections.OrderedDict, "FloatStorage": _FloatStorage,
                "_rebuild_tensor_v2": _rebuild_tensor}[name]

    def persistent_load(self, pid: Any) -> tuple[str, int]:
        # ('storage', type, key, location, element count, view metadata)
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        if pid[1] is not _FloatStorage or pid[5] is not None:
            raise CheckpointError("only float32 storages without views are read")
        return (str(pid[2]), int(pid[4]))


def load_state(path: str | Path) -> dict[str, np.ndarray]:
    """The `model_state` tensors of a legacy torch checkpoint, as float32 arrays; raises
    CheckpointError on any other content."""
    with open(path, "rb") as f:
        header = [_CheckpointUnpickler(f).load() for _ in range(3)]
        if header[0] != _MAGIC or header[1] != 1001 or not header[2].get("little_endian"):
            raise CheckpointError("not a little-endian legacy torch checkpoint")
        checkpoint = _CheckpointUnpickler(f).load()
        keys = _CheckpointUnpickler(f).load()
        storages = {}
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            storages[key] = np.frombuffer(f.read(4 * count), dtype="<f4")
    state = {}
    for name, recipe in checkpoint["model_state"].items():
        if not (isinstance(recipe, tuple) and recipe[0] == "tensor"):
            continue
        _, (key, _), offset, size, stride = recipe
        data = storages.get(key)
        # as_strided reads whatever memory the recipe points at: a recipe must stay in its storage
        last = offset + sum((n - 1) * st for n, st in zip(size, stride)) if all(size) else offset - 1
        if data is None or offset < 0 or any(st < 0 for st in stride) or last >= len(data):
            raise CheckpointError(f"tensor {name} lies outside its storage")
        state[name] = np.lib.stride_tricks.as_strided(
            data[offset:], shape=size, strides=tuple(4 * s for s in stride)).astype(np.float32)
    return state


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)     # tanh form: no overflow warnings for large |x|


class SpeakerEncoder:
    """The GE2E encoder's forward pass in numpy (float32)."""

    def __init__(self, state: dict[str, np.ndarray]):
        self.layers = [(state[f"lstm.weight_ih_l{i}"].T.copy(), state[f"lstm.weight_hh_l{i}"].T.copy(),
                        state[f"lstm.bias_ih_l{i}"] + state[f"lstm.bias_hh_l{i}"]) for i in range(_LSTM_LAYERS)]
        self.linear = (state["linear.weight"].T.copy(), state["linear.bias"])

    def embed_partials(self, mels: np.ndarray) -> np.ndarray:
        """(batch, frames, 40) power mels → (batch, 256) L2-normed embeddings."""
        sequence = mels.astype(np.float32)
        batch, frames, _ = sequence.shape
        for w_ih, w_hh, bias in self.layers:
            hidden = w_hh.shape[0]
            gates_in = sequence @ w_ih + bias          # every step's input projection at once
            h = np.zeros((batch, hidden), np.float32)
            c = np.zeros((batch, hidden), np.float32)
            outputs = np.empty((batch, frames, hidden), np.float32)
            for t in range(frames):
                gates = gates_in[:, t] + h @ w_hh
                # torch's gate order: input, forget, cell, output
                i, f, g, o = (gates[:, k * hidden:(k + 1) * hidden] for k in range(4))
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                outputs[:, t] = h
            sequence = outputs
        weight, bias = self.linear
        raw = np.maximum(h @ weight + bias, 0.0)
        return raw / (np.linalg.norm(raw, axis=1, keepdims=True) + 1e-9)

    def embed_utterances(self, utterances: list[np.ndarray]) -> np.ndarray:
        """(n, 256) L2-normed embeddings of 16-kHz float utterances, their partials in batches of
        BATCH (the per-step matrix products are shared; the memory stays ~50 MB on any call)."""
        batches = [_partials(x) for x in utterances]
        if not batches:
            return np.zeros((0, 256), np.float32)
        every = np.concatenate(batches)
        partials = np.concatenate([self.embed_partials(every[i:i + BATCH]) for i in range(0, len(every), BATCH)])
        bounds = np.cumsum([0] + [len(b) for b in batches])
        means = np.stack([partials[a:b].mean(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
        return (means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-9)).astype(np.float32)


@lru_cache(maxsize=1)
def _mel_basis() -> tuple[np.ndarray, np.ndarray]:
    import librosa

    window = librosa.filters.get_window("hann", N_FFT, fftbins=True).astype(np.float32)
    return window, librosa.filters.mel(sr=RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32).T


def mel_frames(x: np.ndarray) -> np.ndarray:
    """(frames, 40) power mel spectrogram of 16-kHz audio (the encoder's input; not log): what
    librosa.feature.melspectrogram gives with the package's settings (centred frames, zero
    padding), computed here with a cached filter bank — librosa rebuilds it on every call, which
    cost more than the LSTM on a call's short utterances."""
    window, basis = _mel_basis()
    padded = np.pad(x.astype(np.float32), N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(padded, shape=(count, N_FFT), strides=(4 * HOP, 4), writeable=False)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    return (power.astype(np.float32) @ basis).astype(np.float32)


def without_line_floor(mel: np.ndarray) -> np.ndarray:
    """The utterance's mel frames less the line's floor: per band, the FLOOR_PERCENTILE-th
    percentile of its frame powers (the pauses and soft sounds) is subtracted, keeping at least
    FLOOR_KEEP of it. The encoder's input is linear power, so a line's noise (white noise at 20 dB
    SNR, the high band an 8-kHz recording lacks) moves the embedding as far as another voice does;
    this takes most of that away and keeps the speaker (measured on the recorded voices,
    docs/metrics.md#voice-change-detection)."""
    floor = np.percentile(mel, FLOOR_PERCENTILE, axis=0)
    return np.maximum(mel - floor, FLOOR_KEEP * floor).astype(np.float32)


def _partials(x: np.ndarray) -> np.ndarray:
    """(n, 160, 40): the partial windows of one utterance, as Resemblyzer's compute_partial_slices."""
    frames = int(np.ceil((len(x) + 1) / HOP))
    step = int(np.round(RATE / PARTIAL_RATE / HOP))
    starts = list(range(0, max(1, frames - PARTIAL_FRAMES + step + 1), step))
    coverage = (len(x) - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-9
    scaled = (x * (10 ** (TARGET_DBFS / 20) / rms)).astype(np.float32)    # before the zero padding
    mel = mel_frames(np.pad(scaled, (0, max(0, (starts[-1] + PARTIAL_FRAMES) * HOP - len(x)))))
    live = int(np.ceil(len(x) / HOP))
    mel[:live] = without_line_floor(mel[:live])
    return np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])


def weights_path() -> Path | None:
    """Where the installed `resemblyzer` wheel keeps pretrained.pt, or None. The package is
    located, never imported: its __init__ imports torch."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "pretrained.pt"
        if path.is_file():
            return path
    return None


def load_encoder(path: Path | None) -> SpeakerEncoder | None:
    """The encoder with the weights at `path`, or None when there are none."""
    return SpeakerEncoder(load_state(path)) if path is not None and path.is_file() else None


@lru_cache(maxsize=1)
def encoder() -> SpeakerEncoder | None:
    """The process's encoder (loaded once, ~0.1 s), or None when the weights are not installed."""
    return load_encoder(weights_path())
