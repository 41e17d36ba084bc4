"""Probing recordings: WAV, MP3 and M4A are recognised with their properties; anything else,
truncated, or lying about its length is refused or bounded."""
import struct

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
    assert sniff_format(b"OggS\x00") is None
