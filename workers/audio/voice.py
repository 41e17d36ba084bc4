"""Voice measurements of the AI's channel, for voice_tone_clarity and voice_change_detection.

Only the AI's speech is measured (its speech segments from the detector), never the gaps.

Clarity: Microsoft's DNSMOS (the ONNX weights shipped in the `speechmos` wheel; nothing is
downloaded), run on the AI's speech joined and cut into 9-s windows without overlap (the
package's own 1-s hop is 6× slower and adds nothing to a whole-call score). Its P.808 MOS is
compressed on synthetic and TTS speech (clean ≈ 3.5–3.8, telephone band ≈ 3.0, heavy noise ≈
2.4), so the 1–5 score maps it linearly: score = 1 + 1.6 × (P.808 − 2.0), clamped. Reasons come
along: SIG/BAK/OVRL, SNR, bandwidth, clipping.

Voice change: per AI utterance a speaker embedding (the GE2E encoder shipped in the resemblyzer
wheel, run in numpy: workers/audio/speaker_embedding.py); without those weights, MFCCs
(librosa) and F0 (Praat via parselmouth) on the speech band-limited to 300–3400 Hz and
RMS-normalised instead. Either way the line's own descriptors (bandwidth, SNR) come along, to
tell a line change from a voice change afterwards (workers/metrics/voice.py).
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from workers.audio.speaker_embedding import encoder as speaker_encoder
from workers.audio.spill import RATE, read_span
from workers.metrics.timeline import Segment

WINDOW_S = 9.0
MAX_WINDOWS = 8  # DNSMOS windows per call, evenly spread: the cost stays flat for long calls
MIN_UTTERANCE_S = 0.8
MIN_CLARITY_SPEECH_S = 3.0
_FRAME = 512


@lru_cache(maxsize=1)
def _dnsmos_sessions():
    import onnxruntime as ort
    import speechmos

    models = os.path.join(os.path.dirname(speechmos.__file__), "dnsmos_models")
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = 1, 1  # one worker process, one core
    return (ort.InferenceSession(os.path.join(models, "sig_bak_ovr.onnx"), options),
            ort.InferenceSession(os.path.join(models, "model_v8.onnx"), options))


def _p808_features(window: np.ndarray) -> np.ndarray:
    import librosa

    mel = librosa.feature.melspectrogram(y=window[:-160], sr=RATE, n_fft=321, hop_length=160, n_mels=120)
    return ((librosa.power_to_db(mel, ref=np.max) + 40) / 40).T.astype(np.float32)[None]


def _poly(coeffs, x):
    return float(np.polyval(coeffs, x))


def dnsmos(speech: np.ndarray) -> dict:
    """DNSMOS P.808 and P.835 (SIG, BAK, OVRL) averaged over 9-s windows of `speech` (at most
    MAX_WINDOWS, evenly spread over it)."""
    primary, p808 = _dnsmos_sessions()
    length = int(WINDOW_S * RATE) + 160
    while len(speech) < length:  # short calls: repeat, as the reference implementation does
        speech = np.concatenate([speech, speech])
    scores = []
    starts = list(range(0, len(speech) - length + 1, int(WINDOW_S * RATE)))
    if len(starts) > MAX_WINDOWS:
        starts = [starts[round(i * (len(starts) - 1) / (MAX_WINDOWS - 1))] for i in range(MAX_WINDOWS)]
    for start in starts:
        window = speech[start:start + length].astype(np.float32)
        sig, bak, ovr = primary.run(None, {"input_1": window[None]})[0][0]
        mos = p808.run(None, {"input_1": _p808_features(window)})[0][0][0]
        scores.append((_poly([-0.08397278, 1.22083953, 0.0052439], sig), _poly([-0.13166888, 1.60915514, -0.39604546], bak),
                       _poly([-0.06766283, 1.11546468, 0.04602535], ovr), float(mos)))
    sig, bak, ovr, mos = np.mean(scores, axis=0)
    return {"p808_mos": round(mos, 3), "sig_mos": round(sig, 3), "bak_mos": round(bak, 3),
            "ovrl_mos": round(ovr, 3), "windows": len(scores)}


def line_descriptors(x: np.ndarray) -> dict:
    """Bandwidth (Hz below which 99 % of the speech energy lies), high-band share (dB of the
    energy above 3.6 kHz, which a telephone line removes), SNR (dB, loud frames vs quiet
    frames), clipping (share of samples at full scale)."""
    frames = len(x) // _FRAME
    if frames < 4:
        return {"bandwidth_hz": None, "high_band_db": None, "snr_db": None, "clipping_ratio": 0.0}
    framed = x[:frames * _FRAME].reshape(frames, _FRAME)
    energy = (framed ** 2).mean(axis=1) + 1e-12
    spectrum = (np.abs(np.fft.rfft(framed * np.hanning(_FRAME), axis=1)) ** 2).sum(axis=0)
    cumulative = np.cumsum(spectrum) / spectrum.sum()
    bandwidth = float(np.searchsorted(cumulative, 0.99) * RATE / _FRAME)
    high = spectrum[int(3600 * _FRAME / RATE):].sum() / spectrum.sum()
    loud, quiet = np.percentile(energy, 90), np.percentile(energy, 10)
    return {"bandwidth_hz": round(bandwidth), "high_band_db": round(float(10 * np.log10(high + 1e-9)), 1),
            "snr_db": round(float(10 * np.log10(loud / quiet)), 1),
            "clipping_ratio": round(float(np.mean(np.abs(x) >= 0.999)), 5)}


def _telephone_band(x: np.ndarray) -> np.ndarray:
    from scipy.signal import butter, sosfiltfilt

    sos = butter(4, [300, 3400], btype="bandpass", fs=RATE, output="sos")
    return sosfiltfilt(sos, x).astype(np.float32)


def utterance_features(x: np.ndarray) -> np.ndarray:
    """MFCC 1–19 means and spreads + log-F0 median and range of one utterance (band-limited,
    RMS-normalised)."""
    import librosa
    import parselmouth

    band = _telephone_band(x)
    band = band / (np.sqrt(np.mean(band ** 2)) + 1e-9) * 0.1
    mfcc = librosa.feature.mfcc(y=band, sr=RATE, n_mfcc=20, n_fft=512, hop_length=160)[1:]
    pitch = parselmouth.Sound(band.astype(np.float64), RATE).to_pitch(pitch_floor=60, pitch_ceiling=500)
    f0 = pitch.selected_array["frequency"]
    f0 = np.log(f0[f0 > 0]) if np.any(f0 > 0) else np.zeros(1)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1),
                           [np.median(f0) * 10, (np.percentile(f0, 90) - np.percentile(f0, 10)) * 10]])


def warm_up() -> None:
    """Load the DNSMOS sessions and the speaker encoder, compile librosa's kernels (~3–4 s, once
    per process)."""
    _dnsmos_sessions()
    noise = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    model = speaker_encoder()
    if model is None:
        utterance_features(noise)
    else:
        model.embed_utterances([noise])


def measure_ai_voice(path: str, ai_segments: list[Segment]) -> dict:
    """Everything the voice metrics need, from the AI channel's WAV and its speech segments:
    {"speech_seconds", "clarity": {...} | None, "utterances": [{"at_second", "line", and
    "embedding" and "band_embedding" (256 floats each) or, without the encoder's weights,
    "features"}]}."""
    model = speaker_encoder()
    utterances, pieces, spoken = [], [], []
    for start, end in ai_segments:
        x = read_span(path, start, end)
        if len(x) == 0:
            continue
        pieces.append(x)
        if end - start >= MIN_UTTERANCE_S:
            spoken.append(x)
            utterance = {"at_second": round(start, 3), "line": line_descriptors(x)}
            if model is None:
                utterance["features"] = utterance_features(x).round(4).tolist()
            utterances.append(utterance)
    if model is not None:
        # each utterance as heard and in the telephone band: a line that loses the band moves the
        # first a long way, the second hardly (docs/metrics.md#voice-change-detection)
        vectors = model.embed_utterances(spoken + [_telephone_band(x) for x in spoken])
        for utterance, whole, band in zip(utterances, vectors[:len(spoken)], vectors[len(spoken):]):
            utterance["embedding"], utterance["band_embedding"] = whole.round(4).tolist(), band.round(4).tolist()
    speech = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
    clarity = None
    if len(speech) >= MIN_CLARITY_SPEECH_S * RATE:
        clarity = {**dnsmos(speech), **line_descriptors(speech)}
    return {"speech_seconds": round(len(speech) / RATE, 3), "clarity": clarity, "utterances": utterances}
