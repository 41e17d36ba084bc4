"""Custom metric definitions: a head row per metric and one immutable row per version."""
from __future__ import annotations

from psycopg.types.json import Jsonb

from app.db.pool import Conn, one

DEFINITION_FIELDS = ("name", "description", "kind", "result_type", "prompt", "code", "enum_values",
                     "pass_criteria", "critical", "enabled", "redact")
_JSON = {"enum_values", "pass_criteria"}
_SELECT = (
    "SELECT m.id, m.workspace_id, m.version, m.created_at, m.updated_at, m.deleted_at,"
    f" {', '.join('v.' + f for f in DEFINITION_FIELDS)}"
    " FROM custom_metrics m JOIN custom_metric_versions v ON v.metric_id = m.id AND v.version = m.version"
)


def _insert_version(conn: Conn, metric_id: int, version: int, definition: dict) -> None:
    values = {f: (Jsonb(definition.get(f)) if f in _JSON and definition.get(f) is not None else definition.get(f))
              for f in DEFINITION_FIELDS}
    conn.execute(
        f"INSERT INTO custom_metric_versions (metric_id, version, {', '.join(DEFINITION_FIELDS)})"
        f" VALUES (%(metric_id)s, %(version)s, {', '.join(f'%({f})s' for f in DEFINITION_FIELDS)})",
        {**values, "metric_id": metric_id, "version": version},
    )


def insert_metric(conn: Conn, workspace_id: int, definition: dict) -> int | None:
    """Create a metric at version 1; None when a live metric of the workspace has that name."""
    row = conn.execute(
        "INSERT INTO custom_metrics (workspace_id, name) VALUES (%s, %s)"
        " ON CONFLICT (workspace_id, lower(name)) WHERE deleted_at IS NULL DO NOTHING RETURNING id",
        (workspace_id, definition["name"]),
    ).fetchone()
    if row is None:
        return None
    _insert_version(conn, row["id"], 1, definition)
    return row["id"]


def get_metric(conn: Conn, workspace_id: int, metric_id: int, for_update: bool = False) -> dict | None:
    """The live metric's current version (None if unknown, foreign or deleted)."""
    lock = " FOR UPDATE OF m" if for_update else ""
    return conn.execute(
        f"{_SELECT} WHERE m.id = %s AND m.workspace_id = %s AND m.deleted_at IS NULL{lock}",
        (metric_id, workspace_id),
    ).fetchone()


def list_metrics(conn: Conn, workspace_id: int, limit: int, offset: int) -> tuple[list[dict], int]:
    total = one(conn.execute(
        "SELECT count(*) AS n FROM custom_metrics WHERE workspace_id = %s AND deleted_at IS NULL", (workspace_id,)
    ).fetchone())["n"]
    rows = conn.execute(
        f"{_SELECT} WHERE m.workspace_id = %s AND m.deleted_at IS NULL ORDER BY m.id LIMIT %s OFFSET %s",
        (workspace_id, limit, offset),
    ).fetchall()
    return rows, total


def list_versions(conn: Conn, workspace_id: int, metric_id: int) -> list[dict]:
    """Every version of a metric (also a deleted one: its results still point at them)."""
    return conn.execute(
        f"SELECT v.metric_id AS id, v.version, v.created_at, {', '.join('v.' + f for f in DEFINITION_FIELDS)}"
        " FROM custom_metric_versions v JOIN custom_metrics m ON m.id = v.metric_id"
        " WHERE m.id = %s AND m.workspace_id = %s ORDER BY v.version",
        (metric_id, workspace_id),
    ).fetchall()


def add_version(conn: Conn, metric_id: int, version: int, definition: dict) -> bool:
    """Make `definition` the metric's version `version`; False when the new name is taken."""
    renamed = conn.execute(
        "UPDATE custom_metrics SET version = %s, name = %s, updated_at = now() WHERE id = %s"
        " AND NOT EXISTS (SELECT 1 FROM custom_metrics o WHERE o.workspace_id = custom_metrics.workspace_id"
        "  AND lower(o.name) = lower(%s) AND o.id <> %s AND o.deleted_at IS NULL) RETURNING id",
        (version, definition["name"], metric_id, definition["name"], metric_id),
    ).fetchone()
    if renamed is None:
        return False
    _insert_version(conn, metric_id, version, definition)
    return True


def soft_delete_metric(conn: Conn, workspace_id: int, metric_id: int) -> bool:
    row = conn.execute(
        "UPDATE custom_metrics SET deleted_at = now(), updated_at = now()"
        " WHERE id = %s AND workspace_id = %s AND deleted_at IS NULL RETURNING id",
        (metric_id, workspace_id),
    ).fetchone()
    return row is not None


def missing_metric_ids(conn: Conn, workspace_id: int, ids: list[int]) -> list[int]:
    """The ids among `ids` that are not live custom metrics of the workspace."""
    if not ids:
        return []
    found = {r["id"] for r in conn.execute(
        "SELECT id FROM custom_metrics WHERE workspace_id = %s AND id = ANY(%s) AND deleted_at IS NULL",
        (workspace_id, list(ids)),
    )}
    return sorted(set(ids) - found)
