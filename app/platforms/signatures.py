"""Each platform's signature scheme, checked on the raw body before anything is parsed
(docs/integrations.md#signatures).

`verify` returns a digest of the signature that was accepted: the inbound endpoint stores it so
the same signed request cannot be played twice. Timestamps outside the platform's tolerance are
refused (a captured request goes stale), in both directions (a clock far ahead is as suspect).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from app.errors import Unauthorized

# Seconds a signed timestamp may differ from our clock, per platform. Retell's SDK allows 5
# minutes; ElevenLabs' SDK 30 minutes; Vapi documents none, we take Retell's.
TOLERANCE_SECONDS = {"vapi": 300, "retell": 300, "elevenlabs": 1800}


class BadSignature(Unauthorized):
    code = "invalid_signature"
    message = "The event's signature is missing, wrong or stale."


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _fresh(timestamp: str, now: float, tolerance: int) -> float:
    """The timestamp in seconds (epoch seconds or milliseconds accepted); BadSignature if stale."""
    try:
        value = float(timestamp)
    except ValueError:
        raise BadSignature("The signature's timestamp is not a number.") from None
    seconds = value / 1000 if value > 1e11 else value  # 1e11 s is the year 5138: this is ms
    if abs(now - seconds) > tolerance:
        raise BadSignature("The signature's timestamp is outside the tolerance (stale or replayed).")
    return seconds


def _parts(header: str) -> dict[str, list[str]]:
    """`k=v,k=v` (Retell, ElevenLabs) → {k: [v, …]}."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    return parts


def _matches(expected: str, offered: list[str]) -> bool:
    return any(hmac.compare_digest(expected, candidate.lower()) for candidate in offered)


def verify_retell(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str:
    """`x-retell-signature: v=<epoch ms>,d=<hex>`, HMAC-SHA256 of body + timestamp, keyed with the
    Retell API key."""
    header = headers.get("x-retell-signature", "")
    parts = _parts(header)
    if not parts.get("v") or not parts.get("d"):
        raise BadSignature("The x-retell-signature header is missing or malformed.")
    _fresh(parts["v"][0], now, TOLERANCE_SECONDS["retell"])
    if not _matches(_hmac_hex(secret, body + parts["v"][0].encode()), parts["d"]):
        raise BadSignature()
    return header


def verify_elevenlabs(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str:
    """`ElevenLabs-Signature: t=<unix s>,v0=<hex>`, HMAC-SHA256 of "<t>.<body>"."""
    header = headers.get("elevenlabs-signature", "")
    parts = _parts(header)
    if not parts.get("t") or not parts.get("v0"):
        raise BadSignature("The ElevenLabs-Signature header is missing or malformed.")
    _fresh(parts["t"][0], now, TOLERANCE_SECONDS["elevenlabs"])
    if not _matches(_hmac_hex(secret, parts["t"][0].encode() + b"." + body), parts["v0"]):
        raise BadSignature()
    return header


def verify_vapi(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str:
    """Vapi's HMAC credential (`x-signature`: hex HMAC-SHA256 of "<x-timestamp>.<body>", an
    optional `sha256=` prefix) — the scheme we recommend; or its static-secret forms
    (`X-Vapi-Secret`, `Authorization: Bearer`), which carry no timestamp: such events cannot be
    told from a replay, which idempotency on the call id makes harmless."""
    signature = headers.get("x-signature")
    if signature:
        timestamp = headers.get("x-timestamp", "")
        if not timestamp:
            raise BadSignature("x-signature needs x-timestamp.")
        _fresh(timestamp, now, TOLERANCE_SECONDS["vapi"])
        if not _matches(_hmac_hex(secret, timestamp.encode() + b"." + body), [signature.removeprefix("sha256=")]):
            raise BadSignature()
        return f"{timestamp}:{signature}"
    offered = headers.get("x-vapi-secret") or headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not offered or not hmac.compare_digest(offered.encode(), secret.encode()):
        raise BadSignature("Neither x-signature nor a matching X-Vapi-Secret / bearer credential was sent.")
    return ""  # nothing to remember: the same header comes with every event


VERIFIERS = {"vapi": verify_vapi, "retell": verify_retell, "elevenlabs": verify_elevenlabs}


def verify(platform: str, secret: str, headers: Mapping[str, str], body: bytes, now: float) -> str:
    """A digest of the accepted signature (empty when the scheme has none to remember).
    Raises BadSignature (401) for a missing, wrong or stale one."""
    accepted = VERIFIERS[platform](secret, headers, body, now)
    return hashlib.sha256(accepted.encode()).hexdigest() if accepted else ""
