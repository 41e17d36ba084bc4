"""Probing recordings: WAV, MP3, M4A, FLAC, Ogg and WebM are recognised with their properties;
anything else, truncated, or lying about its length is refused or bounded."""
import struct

import numpy as np
import pytest

from tests.support.audio import encoded_bytes, wav_bytes
from workers.audio.probe import UndecodableAudio, probe, sniff_format


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_wav(tmp_path):
    info = probe(write(tmp_path, "a.wav", wav_bytes(seconds=3.0, rate=8000)))
    assert (info.format, info.codec, info.channels, info.sample_rate) == ("wav", "pcm_s16le", 2, 8000)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.01)


@pytest.mark.parametrize("fmt,codec", [("mp3", "mp3"), ("m4a", "aac")])
def test_compressed(tmp_path, fmt, codec):
    info = probe(write(tmp_path, f"a.{fmt}", encoded_bytes(fmt, seconds=4.0, rate=16000)))
    assert info.format == fmt and info.codec.startswith(codec) and info.channels == 2
    assert info.sample_rate == 16000
    assert info.duration_seconds == pytest.approx(4.0, abs=0.1)


@pytest.mark.parametrize("data", [
    b"", b"hello, this is text", b"<html><body>404</body></html>", b"#EXTM3U\n#EXT-X-VERSION:3\nhttp://10.0.0.1/x.ts\n",
    b"ffconcat version 1.0\nfile /etc/passwd\n", b"OggS" + b"\x00" * 100, b"fLaC" + b"\x00" * 100,
    b"RIFF\x24\x00\x00\x00WAVEjunkjunk",
])
def test_not_audio_is_refused(tmp_path, data):
    with pytest.raises(UndecodableAudio):
        probe(write(tmp_path, "x", data))


def test_truncated_wav_header_only(tmp_path):
    with pytest.raises(UndecodableAudio):
        probe(write(tmp_path, "t.wav", wav_bytes(seconds=1.0)[:44]))


def test_wav_declaring_days_is_bounded_by_its_size(tmp_path):
    data = bytearray(wav_bytes(seconds=2.0, rate=8000))
    huge = 8000 * 2 * 2 * 86400 * 3  # three days of audio declared in the data chunk
    data[4:8] = struct.pack("<I", 0xFFFFFFF0)
    data[40:44] = struct.pack("<I", min(huge, 0xFFFFFFF0))
    info = probe(write(tmp_path, "lie.wav", bytes(data)))
    assert info.duration_seconds == pytest.approx(2.0, abs=0.05)


def test_sniff_format():
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff_format(b"\x00\x00\x00\x20ftypM4A \x00\x00") == "m4a"
    assert sniff_format(b"ID3\x04\x00") == "mp3"
    assert sniff_format(b"OggS\x00") == "ogg"
    assert sniff_format(b"fLaC\x00\x00\x00\x22") == "flac"
    assert sniff_format(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81") == "webm"
    assert sniff_format(b"#EXTM3U\n") is None and sniff_format(b"ffconcat ") is None


@pytest.mark.parametrize("codec,fmt,name", [("flac", "flac", "flac"), ("opus-ogg", "ogg", "opus"),
                                            ("opus-webm", "webm", "opus")])
def test_flac_ogg_and_webm_decode_with_their_channels_and_timing(tmp_path, codec, fmt, name):
    """The recordings of browsers, LiveKit and WebRTC stacks (Opus in Ogg or WebM) and FLAC
    archives: recognised, both channels kept apart, and sample n still at n / rate seconds
    (Opus's pre-skip trimmed) — a tone burst placed at 1.000 s on the left only is found there."""
    from tests.eval.conditions import encode
    from workers.audio.decode import decode_blocks

    rate = 16000
    t = np.arange(3 * rate) / rate
    left = np.where((t >= 1.0) & (t < 2.0), 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
    data, suffix = encode(np.stack([left, np.zeros_like(left)]), codec)
    path = write(tmp_path, f"a.{suffix}", data)
    info = probe(path)
    assert (info.format, info.codec, info.channels) == (fmt, name, 2)
    assert info.duration_seconds == pytest.approx(3.0, abs=0.05)
    audio = np.concatenate(list(decode_blocks(path)), axis=1)
    onset = np.flatnonzero(np.abs(audio[0]) > 0.1)[0] / rate
    assert onset == pytest.approx(1.0, abs=0.005)
    assert np.abs(audio[1]).max() < 0.02  # the right channel stayed silent: not folded to mono
