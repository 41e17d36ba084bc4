"""Operator use cases behind the admin CLI: migrations, workspaces (and their retention), agents, tokens."""
from __future__ import annotations

from app.auth import max_token_lifetime, mint_token, new_key_id, token_expiry
from app.db import agents as agents_db
from app.db import erasures as erasures_db
from app.db import migrate as migrate_db
from app.db import workspaces as workspaces_db
from app.db.migrate import apply_migrations
from app.db.pool import Conn
from app.errors import CallscopeError, NotFound, ValidationFailed
from app.settings import Settings


def migrate(conn: Conn) -> list[str]:
    return apply_migrations(conn)


def pending_migrations(conn: Conn) -> list[str]:
    with conn.transaction():
        return migrate_db.pending_migrations(conn)


def create_workspace(conn: Conn, name: str) -> dict:
    with conn.transaction():
        return workspaces_db.insert_workspace(conn, name)


def set_retention(conn: Conn, workspace_id: int, days: int | None) -> dict:
    """A workspace's retention period (None: keep calls until deleted); the retention sweep
    erases older calls (docs/operations.md#erasure-and-retention). Raises NotFound, ValidationFailed."""
    if days is not None and days <= 0:
        raise ValidationFailed("The retention period is a number of days above 0.", details={"days": ["must be > 0"]})
    with conn.transaction():
        row = erasures_db.set_retention(conn, workspace_id, days)
    if row is None:
        raise NotFound(f"No workspace {workspace_id}.")
    return row


def create_agent(conn: Conn, workspace_id: int, name: str, ai_channel: str = "left") -> dict:
    with conn.transaction():
        if not workspaces_db.workspace_exists(conn, workspace_id):
            raise NotFound(f"No workspace {workspace_id}.")
        return agents_db.insert_agent(conn, workspace_id, {"name": name, "ai_channel": ai_channel})


def issue_token(conn: Conn, settings: Settings, workspace_id: int,
                expires_in_seconds: int | None = None) -> dict:
    """Store a new API key and return it with its signed token (shown once, never stored)."""
    expires_at = token_expiry(expires_in_seconds, max_token_lifetime(settings.token_max_lifetime_days))
    with conn.transaction():
        if not workspaces_db.workspace_exists(conn, workspace_id):
            raise NotFound(f"No workspace {workspace_id}.")
        key = workspaces_db.insert_api_key(conn, new_key_id(), workspace_id, expires_at)
    token = mint_token(settings.jwt_keys, workspace_id, key["id"], expires_at)
    return {"key_id": key["id"], "workspace_id": workspace_id, "expires_at": expires_at, "token": token}


def revoke_token(conn: Conn, key_id: str) -> dict:
    with conn.transaction():
        row = workspaces_db.revoke_api_key(conn, key_id)
    if row is None:
        raise NotFound(f"No API key {key_id}.")
    return {"key_id": row["id"], "workspace_id": row["workspace_id"], "revoked_at": row["revoked_at"]}


def reseal_secrets(conn: Conn, settings: Settings) -> dict:
    """Re-seal every stored secret under the first CALLSCOPE_ENCRYPTION_KEYS key, in one
    transaction (docs/integrations.md#secrets-at-rest): afterwards the older keys can go.
    Raises ValueError when a secret opens with none of the configured keys."""
    from app.db import sealed as sealed_db
    from app.secretbox import SecretBox

    if not settings.encryption_keys and not settings.secret_key:
        raise CallscopeError("Set CALLSCOPE_ENCRYPTION_KEYS (or CALLSCOPE_SECRET_KEY, which the key is derived "
                             "from without it).", code="invalid_settings")
    box = SecretBox.from_settings(settings)
    counts = {}
    with conn.transaction():
        for table, columns in sealed_db.SEALED_COLUMNS.items():
            rows = sealed_db.sealed_values(conn, table)
            for row in rows:
                sealed_db.set_sealed(conn, table, row["id"],
                                     {c: box.reseal(row[c]) if row[c] else None for c in columns})
            counts[table] = len(rows)
    return {"resealed": counts}
