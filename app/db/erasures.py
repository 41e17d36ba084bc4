"""Erasing calls (docs/operations.md#erasure-and-retention): the rows go at once, the stored
recording right after the commit, tracked by an `erasures` row until it is gone.
Functions take `conn` first and never commit."""
from __future__ import annotations

from typing import TypedDict, cast

from app.db.pool import Conn


class ErasureRow(TypedDict):
    call_id: int
    workspace_id: int
    extra_keys: list[str]   # stored outside the call's prefix: a platform's audio (docs/integrations.md#recordings)


def erase_calls(conn: Conn, call_ids: list[int], reason: str, workspace_id: int | None = None) -> list[ErasureRow]:
    """Delete the calls (their results, history, stage counts, earlier runs and webhook deliveries
    cascade) and record an erasure for each, with the key of any platform audio stored for it, in
    one statement; only calls of `workspace_id` when given. Returns what was erased."""
    return cast("list[ErasureRow]", conn.execute(
        "WITH gone AS (DELETE FROM calls WHERE id = ANY(%s) AND (%s::bigint IS NULL OR workspace_id = %s)"
        " RETURNING id, workspace_id, recording_source->>'key' AS stored_key)"
        " INSERT INTO erasures (call_id, workspace_id, reason, extra_keys)"
        " SELECT id, workspace_id, %s, array_remove(ARRAY[stored_key], NULL) FROM gone"
        " ON CONFLICT (call_id) DO NOTHING RETURNING call_id, workspace_id, extra_keys",
        (call_ids, workspace_id, workspace_id, reason),
    ).fetchall())


def unfinished_erasures(conn: Conn, limit: int, call_id: int | None = None) -> list[ErasureRow]:
    """Erasures whose recording may still be stored (oldest first; one call's when given)."""
    return cast("list[ErasureRow]", conn.execute(
        "SELECT call_id, workspace_id, extra_keys FROM erasures WHERE %s::bigint IS NULL OR call_id = %s"
        " ORDER BY requested_at LIMIT %s",
        (call_id, call_id, limit),
    ).fetchall())


def finish_erasure(conn: Conn, call_id: int) -> None:
    conn.execute("DELETE FROM erasures WHERE call_id = %s", (call_id,))


def expired_call_ids(conn: Conn, limit: int) -> list[int]:
    """Calls older than their workspace's retention period (by when they were received), oldest
    first within each workspace; at most `limit`."""
    rows = conn.execute(
        "SELECT c.id FROM workspaces w CROSS JOIN LATERAL ("
        "   SELECT id FROM calls WHERE workspace_id = w.id"
        "   AND created_at < now() - make_interval(days => w.retention_days)"
        "   ORDER BY created_at LIMIT %s) c"
        " WHERE w.retention_days IS NOT NULL LIMIT %s",
        (limit, limit),
    ).fetchall()
    return [row["id"] for row in rows]


def set_retention(conn: Conn, workspace_id: int, days: int | None) -> dict | None:
    """Set a workspace's retention period in days (None: keep calls until deleted)."""
    return conn.execute(
        "UPDATE workspaces SET retention_days = %s WHERE id = %s RETURNING id, name, retention_days",
        (days, workspace_id),
    ).fetchone()
