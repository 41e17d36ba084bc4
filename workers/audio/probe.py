"""Probing a downloaded recording: is it audio in a container we read (WAV, MP3, M4A, FLAC,
Ogg, WebM) that decodes, and what is it?

The container is recognised from its magic bytes *before* FFmpeg sees the file, and FFmpeg is
then told which demuxer to use: letting it guess would let a hostile "recording" be parsed as an
HLS playlist or a concat script, which can read other files or open network connections.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import cast

import av

MP4_BRANDS = (b"M4A ", b"M4B ", b"mp41", b"mp42", b"isom", b"iso2", b"dash", b"3gp4", b"3gp5", b"qt  ")
CODECS = {
    "wav": ("pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_u8", "pcm_f32le", "pcm_f64le", "pcm_mulaw", "pcm_alaw",
            "adpcm_ms", "adpcm_ima_wav", "gsm_ms"),
    "mp3": ("mp3", "mp3float"),
    "m4a": ("aac", "alac", "mp3", "mp3float"),
    # lossless archives, and the recordings of LiveKit, browsers and WebRTC stacks
    "flac": ("flac",),
    "ogg": ("opus", "vorbis", "flac"),
    "webm": ("opus", "vorbis"),
}
DEMUXERS = {"wav": "wav", "mp3": "mp3", "m4a": "mp4", "flac": "flac", "ogg": "ogg", "webm": "matroska"}
CONTENT_TYPES = {"wav": "audio/wav", "mp3": "audio/mpeg", "m4a": "audio/mp4", "flac": "audio/flac",
                 "ogg": "audio/ogg", "webm": "audio/webm"}
FORMATS_TEXT = "WAV, MP3, M4A, FLAC, Ogg or WebM"


class UndecodableAudio(Exception):
    """Not audio in a supported container that decodes (code `undecodable_audio`)."""


@dataclass(frozen=True)
class Recording:
    format: str            # wav | mp3 | m4a | flac | ogg | webm
    codec: str
    duration_seconds: float
    channels: int
    sample_rate: int
    bytes: int

    def as_dict(self) -> dict:
        return asdict(self)


def sniff_format(head: bytes) -> str | None:
    """wav | mp3 | m4a | flac | ogg | webm from the first bytes of a file, or None."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM (a Matroska profile)
        return "webm"
    if head[4:8] == b"ftyp" and head[8:12] in MP4_BRANDS:
        return "m4a"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def probe(path: str) -> Recording:
    """Recognise, open and decode the first frames of a recording. Raises UndecodableAudio."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        kind = sniff_format(f.read(16))
    if kind is None:
        raise UndecodableAudio(f"The file is not {FORMATS_TEXT} audio.")
    try:
        with av.open(path, format=DEMUXERS[kind], metadata_errors="ignore") as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                raise UndecodableAudio("The file has no audio stream.")
            stream = streams[0]
            codec = stream.codec_context.name
            if codec not in CODECS[kind]:
                raise UndecodableAudio(f"Unsupported {kind} audio codec {codec!r}.")
            audio = cast(av.AudioCodecContext, stream.codec_context)  # the stream is an audio stream
            decoded = 0
            for frame in container.decode(stream):
                decoded += getattr(frame, "samples", 0)
                if decoded >= audio.sample_rate:  # one second proves it decodes
                    break
            if decoded == 0:
                raise UndecodableAudio("No audio could be decoded.")
            duration = _duration(container, stream, kind, size)
            return Recording(kind, codec, round(duration, 3), audio.channels, audio.sample_rate, size)
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise UndecodableAudio(f"The audio does not decode: {type(exc).__name__}") from None


def _duration(container, stream, kind: str, size: int) -> float:
    if stream.duration is not None and stream.time_base is not None:
        seconds = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        raise UndecodableAudio("The recording's duration is unknown.")
    ctx = stream.codec_context
    bits = getattr(ctx, "bits_per_coded_sample", 0) or 0
    if kind == "wav" and bits and ctx.sample_rate and ctx.channels:
        # A WAV header can declare days of audio; the file cannot hold more than its bytes.
        seconds = min(seconds, size * 8 / (bits * ctx.sample_rate * ctx.channels))
    return seconds
