"""CPU cost of the numpy speaker encoder (workers/audio/speaker_embedding.py) per second of speech,
and how well it separates people: the recorded speakers of tests/eval/voices.py (eight prompts of
1.5–5 s each), one thread.

    python tests/bench/embedding_bench.py

Prints the load time, the CPU seconds per second of speech for the mel front end and for the
LSTM (all partials of all prompts as one batch, as the audio stage does per call), and per speaker
the mean cosine similarity of its prompts to each other against the highest mean similarity to
another speaker's prompts.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

from tests.eval import voices
from workers.audio import speaker_embedding as se


def main() -> None:
    path = se.weights_path()
    if path is None or not voices.recorded_available():
        sys.exit("needs the resemblyzer wheel (deploy/requirements-worker-nodeps.txt) and the Asterisk prompts")
    started = time.process_time()
    model = se.load_encoder(path)
    assert model is not None
    print(f"weights: {path} loaded in {time.process_time() - started:.3f} s CPU")
    speakers = voices.RECORDED_AI_VOICES + voices.RECORDED_USER_VOICES
    clips = {v: [voices._read_wav(str(voices.RECORDED / v.split(":", 1)[1] / name))
                 for name in voices.recorded_lines(v, 1.5, 5.0)[:40:5]] for v in speakers}
    every = [x for v in speakers for x in clips[v]]
    model.embed_utterances(every[:1])   # imports librosa and builds the filter bank: not per call
    seconds = sum(len(x) for x in every) / se.RATE
    started = time.process_time()
    partials = np.concatenate([se._partials(x) for x in every])
    front = time.process_time() - started
    started = time.process_time()
    model.embed_partials(partials)
    lstm = time.process_time() - started
    print(f"{len(every)} prompts, {seconds:.1f} s of speech, {len(partials)} partials of 1.6 s")
    print(f"CPU per second of speech: mel front end {1000 * front / seconds:.1f} ms, "
          f"LSTM {1000 * lstm / seconds:.1f} ms, total {1000 * (front + lstm) / seconds:.1f} ms")
    embedded = {v: model.embed_utterances(clips[v]) for v in speakers}
    print(f"{'speaker':30s} same-speaker  closest other (the two Allisons are one woman)")
    for v in speakers:
        s = embedded[v] @ embedded[v].T
        same = (s.sum() - np.trace(s)) / (len(s) * (len(s) - 1))
        other, closest = max((float((embedded[v] @ embedded[w].T).mean()), w) for w in speakers if w != v)
        print(f"{v:30s} {same:12.3f}  {other:13.3f}  {closest}")


if __name__ == "__main__":
    main()
