"""The speaker encoder run without torch (workers/audio/speaker_embedding.py): its checkpoint
loader reads tensors and nothing else, and its embeddings tell voices apart on espeak speech."""
from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from tests.support import callgen as cg
from workers.audio import speaker_embedding as se

needs_weights = pytest.mark.skipif(se.weights_path() is None,
                                   reason="resemblyzer is installed --no-deps by deploy/test.sh")


def _legacy_file(path, state_pickle: bytes) -> None:
    """A legacy torch checkpoint's header (magic, protocol, system info) then `state_pickle`."""
    with open(path, "wb") as f:
        for item in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
            f.write(pickle.dumps(item, protocol=2))
        f.write(state_pickle)


class _RunsACommand:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_the_checkpoint_loader_refuses_a_global_other_than_a_tensors(tmp_path):
    marker = tmp_path / "ran"
    checkpoint = tmp_path / "evil.pt"
    _legacy_file(checkpoint, pickle.dumps({"model_state": _RunsACommand(str(marker))}, protocol=2))
    with pytest.raises(se.CheckpointError, match="system"):
        se.load_state(checkpoint)
    assert not marker.exists()


def test_a_file_that_is_not_a_legacy_checkpoint_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    path.write_bytes(pickle.dumps(1234, protocol=2) * 4)
    with pytest.raises(se.CheckpointError):
        se.load_state(path)


def test_a_tensor_reaching_past_its_storage_is_refused(tmp_path, monkeypatch):
    """A recipe of 10 floats over a storage of 4: read as it says, it would expose memory that is
    not the file's."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    class FloatStorage:
        pass

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called here")

    FloatStorage.__module__, _rebuild_tensor_v2.__module__ = "torch", "torch._utils"
    FloatStorage.__qualname__, _rebuild_tensor_v2.__qualname__ = "FloatStorage", "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2 = FloatStorage, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)

    class Tensor:
        def __reduce__(self):
            return (_rebuild_tensor_v2, ("STORAGE", 0, (10,), (1,), False, None))

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", FloatStorage, "0", "cpu", 4, None) if obj == "STORAGE" else None

    body = io.BytesIO()
    Pickler(body, protocol=2).dump({"model_state": {"linear.bias": Tensor()}})
    checkpoint = tmp_path / "short.pt"
    _legacy_file(checkpoint, body.getvalue() + pickle.dumps(["0"], protocol=2)
                 + struct.pack("<q", 4) + np.zeros(4, "<f4").tobytes())
    with pytest.raises(se.CheckpointError, match="outside its storage"):
        se.load_state(checkpoint)


def test_without_weights_there_is_no_encoder(tmp_path):
    assert se.load_encoder(None) is None
    assert se.load_encoder(tmp_path / "pretrained.pt") is None


@needs_weights
def test_the_shipped_checkpoint_gives_the_encoders_layers():
    state = se.load_state(se.weights_path())
    assert state["lstm.weight_ih_l0"].shape == (1024, 40)      # 4 gates × 256 hidden, 40 mel bands
    assert state["lstm.weight_hh_l2"].shape == (1024, 256)
    assert state["linear.weight"].shape == (256, 256)
    assert all(v.dtype == np.float32 and np.isfinite(v).all() for v in state.values())


@needs_weights
@pytest.mark.skipif(not cg.espeak_available(), reason="espeak-ng is installed by deploy/test.sh")
def test_two_utterances_of_one_voice_are_closer_than_of_two_voices():
    model = se.encoder()
    assert model is not None
    lines = cg.VOICE_AI_LINES[:6]
    first = model.embed_utterances([cg.speak(text, "ai") for text in lines])
    second = model.embed_utterances([cg.speak(text, "ai", voice=cg.OTHER_AI_VOICE) for text in lines])
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-4)
    same = [float(first[i] @ first[j]) for i in range(6) for j in range(i + 1, 6)]
    across = [float(first[i] @ second[j]) for i in range(6) for j in range(6)]
    # every same-voice pair is closer than every cross-voice pair
    assert min(same) > max(across), (min(same), max(across))


@needs_weights
def test_partials_are_batched_without_changing_an_utterances_embedding():
    model = se.encoder()
    assert model is not None
    rng = np.random.default_rng(3)
    short, long = (rng.standard_normal(int(se.RATE * s)).astype(np.float32) * 0.05 for s in (1.0, 4.2))
    together = model.embed_utterances([short, long])
    alone = np.concatenate([model.embed_utterances([short]), model.embed_utterances([long])])
    assert np.allclose(together, alone, atol=1e-5)
