"""Workspaces and API keys. Functions take `conn` first and never commit."""
from __future__ import annotations

from datetime import datetime

from app.db.pool import Conn, one


def insert_workspace(conn: Conn, name: str) -> dict:
    return one(conn.execute(
        "INSERT INTO workspaces (name) VALUES (%s) RETURNING id, name, created_at", (name,)
    ).fetchone())


def workspace_exists(conn: Conn, workspace_id: int) -> bool:
    return conn.execute("SELECT 1 FROM workspaces WHERE id = %s", (workspace_id,)).fetchone() is not None


def insert_api_key(conn: Conn, key_id: str, workspace_id: int, expires_at: datetime | None) -> dict:
    return one(conn.execute(
        "INSERT INTO api_keys (id, workspace_id, expires_at) VALUES (%s, %s, %s)"
        " RETURNING id, workspace_id, created_at, expires_at",
        (key_id, workspace_id, expires_at),
    ).fetchone())


def revoke_api_key(conn: Conn, key_id: str) -> dict | None:
    """Mark a key revoked (idempotent: the first revocation time is kept); None if unknown."""
    return conn.execute(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = %s"
        " RETURNING id, workspace_id, revoked_at",
        (key_id,),
    ).fetchone()


def active_key(conn: Conn, key_id: str) -> tuple[int | None, datetime | None]:
    """(workspace id, expiry) of an unrevoked, unexpired key; (None, None) otherwise."""
    row = conn.execute(
        "SELECT workspace_id, expires_at FROM api_keys WHERE id = %s AND revoked_at IS NULL"
        " AND (expires_at IS NULL OR expires_at > now())",
        (key_id,),
    ).fetchone()
    return (row["workspace_id"], row["expires_at"]) if row else (None, None)
