"""The evaluation corpus: stereo calls generated from seeds, with exact per-party truth.

A seed decides everything — voices (from three TTS engines, tests/eval/voices.py), speaking
rates, levels, the script (tests/eval/lines.py), the call's length and its timing: response
latencies 250–3,000 ms, barge-ins whose AI stop times run 100–3,000 ms (some never yield),
backchannels at random points, AI interruptions, long silences on either side, leading and
trailing silence. The same seed always gives the same call.

**Truth** is the placement itself. Within each synthesised clip, speech is every sample louder
than −40 dB under the clip's peak; runs closer than 300 ms are one segment and segments shorter
than 100 ms are dropped (docs/metrics.md#speech-activity: the same merge and minimum rules the
engine applies). A clip cut by a barge-in keeps what lies before the cut (a 10 ms fade, as a
TTS being stopped). Offsetting each clip by its start and joining per party gives the truth.
A recorded human prompt (tests/eval/voices.py) carries its room's noise floor, so there a sample
counts only inside a 10 ms frame whose RMS lies at least 10 dB above that floor: what a listener
hears as speech, not the room.

**Guard bands.** Where a truth value sits within a few tens of milliseconds of a metric's
threshold (an overlap of 300 ms against `interruption_min_overlap_ms`, a user turn of 1 s against
`backchannel_max_ms`, a gap of 2 s against `silence_threshold_ms`, a barge-in whose caller
stops within 60 ms of the agent — which of them stopped last decides whether the agent's next
words are a response with a latency), either answer is within the edge tolerance, so an
exact-count comparison would measure luck. The planner moves such events
out of the band (GUARD) and says so here; nothing else is filtered.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tests.eval import lines as bank
from tests.eval.voices import (
    AI_VOICES,
    FLOOR_FRAME,
    RATE,
    RECORDED_AI_VOICES,
    RECORDED_USER_VOICES,
    USER_VOICES,
    recorded_floor,
    recorded_lines,
    synthesise,
)

AI, USER = "ai", "user"
AUDIBLE_DB = -40.0
MERGE_GAP, MIN_SEGMENT = 0.3, 0.1
FADE = 0.01
ABOVE_FLOOR_DB = 10.0
GUARD = {"overlap": (0.24, 0.37), "short_turn": (0.9, 1.1), "silence": (1.85, 2.15), "false_stop": (0.9, 1.1),
         "ends_together": (-0.06, 0.06)}
TUNING_SEEDS = range(1000, 1040)     # the engine may be tuned on these…
REPORT_SEEDS = range(1, 61)          # …and figures are quoted from these only
Segment = tuple[float, float]


@dataclass(frozen=True)
class Utterance:
    party: str
    voice: str
    text: str
    start: float
    kind: str                     # turn | barge_in | backchannel | ai_interruption
    cut_at: float | None = None   # seconds from call start: the party stops speaking here


@dataclass
class EvalCall:
    seed: int
    report: bool
    voices: dict[str, str]
    audio: np.ndarray                         # (2, n) float32 at RATE, AI left, before any condition
    truth: dict[str, list[Segment]]
    utterances: list[Utterance]
    switch_at: float | None = None            # AI voice changes at this second (voice-change calls)
    notes: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.audio.shape[1] / RATE


def audible(clip: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Indices of the samples that count as speech (the truth rule above); `floor` is the RMS of
    the recording's own noise floor on the same scale (0: a synthetic clip, no floor)."""
    if not len(clip):
        return np.zeros(0, dtype=np.int64)
    loud = np.abs(clip) >= float(np.abs(clip).max()) * 10 ** (AUDIBLE_DB / 20)
    if floor > 0:
        padded = np.pad(clip, (0, -len(clip) % FLOOR_FRAME)).reshape(-1, FLOOR_FRAME).astype(np.float64)
        heard = np.sqrt((padded ** 2).mean(axis=1)) >= floor * 10 ** (ABOVE_FLOOR_DB / 20)
        loud &= np.repeat(heard, FLOOR_FRAME)[:len(clip)]
    return np.flatnonzero(loud)


def clip_segments(clip: np.ndarray, floor: float = 0.0) -> list[Segment]:
    """Speech segments of one clip, in seconds from its first sample (the truth rule above)."""
    loud = audible(clip, floor)
    if not len(loud):
        return []
    breaks = np.flatnonzero(np.diff(loud) >= MERGE_GAP * RATE) + 1
    runs = [(run[0] / RATE, (run[-1] + 1) / RATE) for run in np.split(loud, breaks)]
    return [(s, e) for s, e in runs if e - s >= MIN_SEGMENT]


def active_level(clip: np.ndarray) -> float:
    """Active speech level of a clip, dBFS: mean power of its 10 ms frames within 30 dB of the loudest."""
    frames = clip[:len(clip) // 160 * 160].reshape(-1, 160).astype(np.float64)
    power = (frames ** 2).mean(axis=1)
    return float(10 * np.log10(power[power >= power.max() * 1e-3].mean() + 1e-20))


def join(segments: list[Segment]) -> list[Segment]:
    """Sorted, merged across gaps < MERGE_GAP, segments < MIN_SEGMENT dropped."""
    merged: list[list[float]] = []
    for s, e in sorted(segments):
        if merged and s - merged[-1][1] < MERGE_GAP:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(round(s, 4), round(e, 4)) for s, e in merged if e - s >= MIN_SEGMENT]


def _in(value: float, band: str) -> bool:
    lo, hi = GUARD[band]
    return lo <= value <= hi


def _cut(clip: np.ndarray, keep_seconds: float) -> np.ndarray:
    keep = max(0, min(len(clip), int(round(keep_seconds * RATE))))
    fade = min(keep, int(FADE * RATE))
    out = clip[:keep].copy()
    if fade:
        out[keep - fade:] *= np.linspace(1, 0, fade, dtype=np.float32)
    return out


class _Planner:
    """Places utterances one after another on a timeline, keeping the guard bands."""

    def __init__(self, rng: np.random.Generator, clips: dict, voices: dict[str, str], stretch: dict[str, float]):
        self.rng, self.clips, self.voices, self.stretch = rng, clips, voices, stretch
        self.placed: list[tuple[Utterance, np.ndarray]] = []
        self.trimmed: dict[tuple[str, str, float], np.ndarray] = {}

    def clip(self, party: str, text: str, voice: str | None = None) -> np.ndarray:
        """The clip trimmed to its audible extent, so an utterance's start is its first sound."""
        key = (voice or self.voices[party], text, self.stretch[party])
        if key not in self.trimmed:
            clip = self.clips[key]
            loud = audible(clip, self.floor(key[0], text))
            self.trimmed[key] = clip[loud[0]:loud[-1] + 1] if len(loud) else clip[:0]
        return self.trimmed[key]

    @staticmethod
    def floor(voice: str, text: str) -> float:
        return recorded_floor(voice, text) if voice.startswith("recorded:") else 0.0

    def segments_of(self, utt: Utterance, clip: np.ndarray) -> list[Segment]:
        return clip_segments(clip, self.floor(utt.voice, utt.text))

    def segments(self, party: str) -> list[Segment]:
        spans = []
        for utt, clip in self.placed:
            if utt.party == party:
                spans += [(utt.start + s, utt.start + e) for s, e in self.segments_of(utt, clip)]
        return join(spans)

    def speech_end(self) -> float:
        return max((u.start + len(c) / RATE for u, c in self.placed), default=0.0)

    def place(self, utt: Utterance, clip: np.ndarray) -> float:
        if utt.cut_at is not None:
            clip = _cut(clip, utt.cut_at - utt.start)
        self.placed.append((utt, clip))
        segs = self.segments_of(utt, clip)
        return utt.start + (segs[-1][1] if segs else 0.0)

    def after_gap(self, end: float, gap: float) -> float:
        """A start `gap` after `end`, nudged out of the silence guard band."""
        if _in(gap, "silence"):
            gap = GUARD["silence"][1] + 0.1
        return end + gap

    def uncut(self, index: int) -> None:
        """Put back the whole clip of a placed utterance."""
        utt, _ = self.placed[index]
        self.placed[index] = (Utterance(utt.party, utt.voice, utt.text, utt.start, utt.kind),
                              self.clip(utt.party, utt.text, utt.voice))

    def cut_clip(self, index: int, cut_at: float) -> float:
        """Cut an already placed utterance; returns its new audible end."""
        utt, clip = self.placed[index]
        new = Utterance(utt.party, utt.voice, utt.text, utt.start, utt.kind, cut_at)
        full = self.clip(utt.party, utt.text, utt.voice)
        self.placed[index] = (new, _cut(full, cut_at - utt.start))
        segs = self.segments_of(new, self.placed[index][1])
        return utt.start + (segs[-1][1] if segs else 0.0)


def _latency(rng: np.random.Generator) -> float:
    if rng.random() < 0.07:
        return float(rng.uniform(2.3, 4.5))           # the agent goes silent
    return float(np.clip(rng.lognormal(np.log(0.85), 0.55), 0.25, 3.0))


def _user_gap(rng: np.random.Generator) -> float:
    if rng.random() < 0.08:
        return float(rng.uniform(2.3, 5.0))           # the caller goes silent
    return float(rng.uniform(0.2, 1.6))


def call_minutes(seed: int) -> float:
    """Most calls 1–4 minutes; every twentieth 8–15 (long calls cost the most to analyse)."""
    rng = np.random.default_rng([seed, 7])
    return float(rng.uniform(8, 15)) if seed % 20 == 0 else float(rng.uniform(1, 4))


def _recorded_script(voices: dict[str, str], report: bool) -> tuple[tuple[str, ...], tuple[str, ...], list[str]]:
    """Agent lines, caller lines and backchannels from the speakers' prompts; like the text bank,
    prompts at even positions are for tuning seeds and odd ones for report seeds."""
    ai = bank.split(tuple(recorded_lines(voices[AI], 0.8, 8.0)), report)
    user = bank.split(tuple(recorded_lines(voices[USER], 0.8, 6.0)), report)
    return ai, user, list(bank.split(tuple(recorded_lines(voices[USER], 0.25, 0.9, digits=True)), report))


def build_call(seed: int, minutes: float | None = None, switch_voice: bool = False,
               recorded: bool = False) -> EvalCall:
    """The call of `seed`: TTS voices, or with `recorded` people's recorded prompts (the same
    planner, timing and truth rule; no rate change, since a recording is played as it is)."""
    report = seed not in TUNING_SEEDS
    rng = np.random.default_rng(seed)
    minutes = call_minutes(seed) if minutes is None else minutes
    pools = (RECORDED_AI_VOICES, RECORDED_USER_VOICES) if recorded else (AI_VOICES, USER_VOICES)
    voices = {AI: str(rng.choice(pools[0])), USER: str(rng.choice(pools[1]))}
    stretch = {AI: float(rng.choice([0.9, 1.0, 1.1])), USER: float(rng.choice([0.85, 1.0, 1.15]))}
    if recorded:
        stretch = {AI: 1.0, USER: 1.0}
        ai_bank, user_bank, backchannels = _recorded_script(voices, report)
    else:
        ai_bank, user_bank = bank.split(bank.AI_LINES, report), bank.split(bank.USER_LINES, report)
        backchannels = list(bank.BACKCHANNELS)
    pairs = int(minutes * 60 / 5.5) + 4
    ai_texts = [str(rng.choice(ai_bank)) for _ in range(pairs)]
    user_texts = [str(rng.choice(user_bank)) for _ in range(pairs)]
    second_voice = None
    if switch_voice:
        others = [v for v in pools[0] if v != voices[AI]]
        second_voice = str(rng.choice(others))
    requests = [(voices[AI], t, stretch[AI]) for t in ai_texts] + [(voices[USER], t, stretch[USER]) for t in user_texts]
    requests += [(voices[USER], t, stretch[USER]) for t in backchannels]
    if second_voice:
        requests += [(second_voice, t, stretch[AI]) for t in ai_texts]
    clips = synthesise(requests)
    plan = _Planner(rng, clips, voices, stretch)
    # each party's active speech level is drawn from the range of ordinary call recordings
    # (−26…−16 dBFS); the level conditions then move the whole call (tests/eval/conditions.py)
    gains = {}
    for party, texts in ((AI, ai_texts), (USER, user_texts)):
        level = float(np.median([active_level(plan.clip(party, t)) for t in texts[:8]]))
        gains[party] = float(10 ** ((rng.uniform(-26, -16) - level) / 20))

    switch_after = float(rng.uniform(0.3, 0.7)) * minutes * 60 if second_voice else None
    t = float(rng.uniform(0.2, 3.0))
    switch_at = None
    for i in range(pairs):
        if t > minutes * 60:
            break
        if second_voice and switch_at is None and switch_after is not None and t >= switch_after:
            switch_at = t
        ai_voice = second_voice if switch_at is not None else voices[AI]
        ai_clip = plan.clip(AI, ai_texts[i], ai_voice)
        ai_start = t
        ai_index = len(plan.placed)
        ai_end = plan.place(Utterance(AI, ai_voice, ai_texts[i], ai_start, "turn"), ai_clip)
        ai_len = ai_end - ai_start
        move = rng.random()
        user_text = user_texts[i]
        user_clip = plan.clip(USER, user_text)
        user_len = len(user_clip) / RATE
        if move < 0.16 and ai_len > 1.6 and user_len > 1.2:
            # barge-in: the user starts over the agent, who stops after a while (or never)
            user_start, ai_stop_end = None, ai_end
            for _ in range(20):
                start = ai_start + float(rng.uniform(0.5, ai_len - 0.6))
                yields = rng.random() > 0.2
                stop = float(np.exp(rng.uniform(np.log(0.1), np.log(3.0))))
                end = ai_end
                if yields and start + stop < ai_end - 0.05:
                    end = plan.cut_clip(ai_index, start + stop)
                user_segments = clip_segments(user_clip, plan.floor(voices[USER], user_text))
                overlap = min(end, start + user_segments[0][1]) - start
                ends_apart = start + user_segments[-1][1] - end
                if end > start and not _in(overlap, "overlap") and not _in(ends_apart, "ends_together"):
                    user_start, ai_stop_end = start, end
                    break
                plan.uncut(ai_index)  # try another moment
            if user_start is None:
                user_start = plan.after_gap(ai_end, 0.6)
                ai_stop_end = ai_end
            user_end = plan.place(Utterance(USER, voices[USER], user_text, user_start, "barge_in"), user_clip)
            t = plan.after_gap(max(user_end, ai_stop_end), _latency(rng)) if user_end >= ai_stop_end else \
                plan.after_gap(ai_stop_end, 0.5)
            continue
        if move < 0.34 and ai_len > 1.4:
            # a backchannel inside the agent's speech
            for _ in range(10):
                text = str(rng.choice(backchannels))
                bc = plan.clip(USER, text)
                segs = clip_segments(bc, plan.floor(voices[USER], text))
                length = segs[-1][1] if segs else 0
                if not segs or _in(length, "overlap") or length > ai_len - 0.8 or length > 0.95:
                    continue
                bc_start = ai_start + float(rng.uniform(0.3, ai_len - length - 0.5))
                if _in(ai_end - bc_start, "false_stop"):
                    continue
                plan.place(Utterance(USER, voices[USER], text, bc_start, "backchannel"), bc)
                break
        user_start = plan.after_gap(ai_end, _user_gap(rng))
        user_end = plan.place(Utterance(USER, voices[USER], user_text, user_start, "turn"), user_clip)
        user_index = len(plan.placed) - 1
        if move > 0.9 and user_end - user_start > 1.3:
            # the agent starts while the caller is still talking; the caller stops or goes on
            start = user_end - float(rng.uniform(0.45, min(1.5, user_end - user_start - 0.5)))
            if rng.random() < 0.5:
                stop = float(rng.uniform(0.45, 1.2))
                if start + stop < user_end - 0.05:
                    user_end = plan.cut_clip(user_index, start + stop)
            if _in(user_end - start, "overlap") or user_end - start < 0.1:
                start = user_end - 0.6
            t = start
        else:
            t = plan.after_gap(user_end, _latency(rng))

    tail = float(rng.uniform(0.3, 3.0))
    n = int((plan.speech_end() + tail) * RATE) + 1
    audio = np.zeros((2, n), np.float32)
    for utt, clip in plan.placed:
        offset = int(round(utt.start * RATE))
        channel = 0 if utt.party == AI else 1
        audio[channel, offset:offset + len(clip)] += clip * np.float32(gains[utt.party])
    truth = {AI: plan.segments(AI), USER: plan.segments(USER)}
    return EvalCall(seed, report, {**voices, **({"ai_second": second_voice} if second_voice else {})}, audio, truth,
                    [u for u, _ in plan.placed], switch_at,
                    {"minutes": round(n / RATE / 60, 2), "stretch": stretch,
                     "gains_db": {p: round(float(20 * np.log10(g)), 1) for p, g in gains.items()}})
