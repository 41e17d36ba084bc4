"""API tokens: HS256 JWTs bound to one workspace, revocable through their key id (jti).

Claims: `sub` = workspace id (string, as RFC 7519 wants), `jti` = API-key id, `iat`, optional
`exp`. With a maximum lifetime (CALLSCOPE_TOKEN_MAX_LIFETIME_DAYS, docs/api.md#authentication)
a token is also refused once `iat` is older than it, whatever its `exp` says — so turning the
limit on retires the eternal tokens issued before it. The header's `kid` names the signing key
so keys can rotate (Settings.jwt_keys: the first signs, all verify). Verification answers one
thing — the workspace id — or raises Unauthorized with a code that does not say which check failed.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt

from app.errors import Unauthorized, ValidationFailed

ALGORITHM = "HS256"


def new_key_id() -> str:
    return "key_" + secrets.token_urlsafe(16)


def mint_token(jwt_keys: tuple[tuple[str, str], ...], workspace_id: int, key_id: str,
               expires_at: datetime | None = None, now: datetime | None = None) -> str:
    kid, secret = jwt_keys[0]
    issued = now or datetime.now(UTC)
    claims = {"sub": str(workspace_id), "jti": key_id, "iat": int(issued.timestamp())}
    if expires_at is not None:
        claims["exp"] = int(expires_at.timestamp())
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": kid})


def max_token_lifetime(days: int) -> timedelta | None:
    """CALLSCOPE_TOKEN_MAX_LIFETIME_DAYS as a duration (None: tokens may live until revoked)."""
    return timedelta(days=days) if days > 0 else None


def token_expiry(seconds: int | None, max_lifetime: timedelta | None) -> datetime | None:
    """When a token issued now with `--expires-in seconds` expires: the maximum lifetime when
    none is asked for; raises ValidationFailed when more than the maximum is asked for."""
    if max_lifetime is not None and seconds and timedelta(seconds=seconds) > max_lifetime:
        raise ValidationFailed(f"--expires-in is longer than the maximum token lifetime ({max_lifetime.days} days).",
                               details={"expires_in": ["longer than CALLSCOPE_TOKEN_MAX_LIFETIME_DAYS"]})
    lifetime = timedelta(seconds=seconds) if seconds else max_lifetime
    return None if lifetime is None else datetime.now(UTC) + lifetime


def decode_token(jwt_keys: tuple[tuple[str, str], ...], token: str,
                 max_lifetime: timedelta | None = None) -> tuple[int, str, float | None]:
    """Verify signature and claims (and the age of `iat` against `max_lifetime`); returns
    (workspace_id, key_id, the epoch second it stops being valid — None: never). Revocation is
    checked by the caller against the database. Raises Unauthorized."""
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        secret = dict(jwt_keys).get(kid) if isinstance(kid, str) else None
        if secret is None or header.get("alg") != ALGORITHM:
            raise Unauthorized(code="invalid_token")
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM],
                            options={"require": ["sub", "jti", "iat"]})
        workspace_id = int(claims["sub"])
        key_id = claims["jti"]
        if not isinstance(key_id, str) or workspace_id <= 0:
            raise Unauthorized(code="invalid_token")
        ends = [float(claims["exp"])] if "exp" in claims else []
        if max_lifetime:
            retired = datetime.fromtimestamp(claims["iat"], UTC) + max_lifetime
            if retired < datetime.now(UTC):
                raise jwt.ExpiredSignatureError("older than the maximum lifetime")
            ends.append(retired.timestamp())
        return workspace_id, key_id, min(ends, default=None)
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired.", code="token_expired") from None
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError, OverflowError, OSError):
        raise Unauthorized(code="invalid_token") from None


def bearer_token(authorization_header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; raises Unauthorized."""
    scheme, _, token = (authorization_header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(code="missing_token")
    return token.strip()


class KeyCache:
    """The revocation check's answers, kept for `ttl_seconds` per key id (docs/api.md#authentication):
    a token whose key was revoked keeps working for at most that long in a process that checked
    it just before, and the database answers one query per key per process per period instead
    of one per request. A key's own expiry still ends it on time (an entry never outlives it).
    Negative answers are kept too: a revoked or unknown key never becomes valid again. `ttl_seconds`
    0 checks the database on every request. At most `max_entries` keys, the oldest dropped first."""

    def __init__(self, ttl_seconds: float, max_entries: int = 10_000, clock: Callable[[], float] = time.time):
        self.ttl, self._max, self._clock = ttl_seconds, max_entries, clock
        self._entries: dict[str, tuple[int | None, float]] = {}
        self._tokens: dict[str, tuple[int, str, float | None]] = {}

    def verified(self, token: str, verify: Callable[[str], tuple[int, str, float | None]]) -> tuple[int, str]:
        """(workspace id, key id) of a token `verify` accepted before and that has not expired
        since, else `verify(token)` (which raises Unauthorized). A token's bytes verify the same
        way for the life of the process (the signing keys are read once), so only its own
        expiry ends an entry: this saves the signature and claim checks (~50 µs) of every
        repeated request. Nothing is kept when `ttl_seconds` is 0."""
        cached = self._tokens.get(token)
        if cached is not None and (cached[2] is None or cached[2] > self._clock()):
            return cached[0], cached[1]
        workspace_id, key_id, valid_until = verify(token)
        if self.ttl > 0:
            _bounded_put(self._tokens, token, (workspace_id, key_id, valid_until), self._max)
        return workspace_id, key_id

    def workspace(self, key_id: str, lookup: Callable[[str], tuple[int | None, datetime | None]]) -> int | None:
        """The workspace of an active key (None: revoked, expired or unknown), from the cache
        while fresh, else from `lookup` (key id → (workspace id, expiry))."""
        now = self._clock()
        cached = self._entries.get(key_id)
        if cached is not None and cached[1] > now:
            return cached[0]
        workspace_id, expires_at = lookup(key_id)
        if self.ttl > 0:
            until = now + self.ttl if expires_at is None else min(now + self.ttl, expires_at.timestamp())
            _bounded_put(self._entries, key_id, (workspace_id, until), self._max)
        return workspace_id


def _bounded_put(entries: dict, key, value, max_entries: int) -> None:
    """Insert or refresh `key`, dropping the oldest entry when full."""
    entries.pop(key, None)
    if len(entries) >= max_entries:
        entries.pop(next(iter(entries)))
    entries[key] = value
