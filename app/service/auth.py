"""Authenticating a request: token → workspace id, with the revocation check in Postgres (its
answers cached per process for CALLSCOPE_TOKEN_CACHE_SECONDS, app/auth.KeyCache)."""
from __future__ import annotations

from app.auth import bearer_token, decode_token, max_token_lifetime
from app.db.pool import autocommit
from app.db.workspaces import active_key
from app.errors import RateLimited, Unauthorized
from app.service.deps import Deps


def authenticate(deps: Deps, authorization_header: str | None) -> int:
    """The workspace id the bearer token speaks for; raises Unauthorized, or RateLimited when
    the token's budget is spent (checked after authentication: anonymous floods cost nothing
    but a signature check)."""
    settings = deps.settings
    workspace_id, key_id = deps.key_cache.verified(bearer_token(authorization_header), lambda token: decode_token(
        settings.jwt_keys, token, max_token_lifetime(settings.token_max_lifetime_days)))
    key_workspace = deps.key_cache.workspace(key_id, lambda key: _active_key(deps, key))
    # A key of another workspace with a tampered `sub` fails here too.
    if key_workspace != workspace_id:
        raise Unauthorized(code="invalid_token")
    decision = deps.rate_limiter.check(key_id)
    if not decision.allowed:
        raise RateLimited(details={"retry_after_seconds": decision.retry_after_seconds})
    return workspace_id


def _active_key(deps: Deps, key_id: str):
    with autocommit(deps.pool) as conn:
        return active_key(conn, key_id)
