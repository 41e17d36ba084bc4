"""API tokens: HS256 JWTs bound to one workspace, revocable through their key id (jti).

Claims: `sub` = workspace id (string, as RFC 7519 wants), `jti` = API-key id, `iat`, optional
`exp`. The header's `kid` names the signing key so keys can rotate (Settings.jwt_keys: the
first signs, all verify). Verification answers one thing — the workspace id — or raises
Unauthorized with a code that does not say which check failed.
"""
from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import jwt

from app.errors import Unauthorized

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


def expiry_from_seconds(seconds: int | None) -> datetime | None:
    return None if not seconds else datetime.now(UTC) + timedelta(seconds=seconds)


def decode_token(jwt_keys: tuple[tuple[str, str], ...], token: str) -> tuple[int, str]:
    """Verify signature and claims; returns (workspace_id, key_id). Revocation is checked by
    the caller against the database. Raises Unauthorized."""
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
        return workspace_id, key_id
    except jwt.ExpiredSignatureError:
        raise Unauthorized("The token has expired.", code="token_expired") from None
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError):
        raise Unauthorized(code="invalid_token") from None


def bearer_token(authorization_header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; raises Unauthorized."""
    scheme, _, token = (authorization_header or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(code="missing_token")
    return token.strip()
