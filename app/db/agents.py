"""Agents (soft-deleted): the AIs a workspace evaluates and their analysis settings."""
from __future__ import annotations

from psycopg.types.json import Jsonb

from app.db.pool import Conn, one

_COLUMNS = ("id, workspace_id, name, ai_channel, disabled_standard_metrics, enabled_metric_ids,"
            " analysis_settings, standard_criteria, created_at, updated_at")
_MUTABLE = ("name", "ai_channel", "disabled_standard_metrics", "enabled_metric_ids", "analysis_settings",
            "standard_criteria")


def _adapt(values: dict) -> dict:
    return {k: Jsonb(v) if k in ("analysis_settings", "standard_criteria") else v for k, v in values.items()}


def insert_agent(conn: Conn, workspace_id: int, values: dict) -> dict:
    values = _adapt({k: v for k, v in values.items() if k in _MUTABLE})
    cols = ["workspace_id", *values]
    placeholders = ", ".join(f"%({c})s" for c in cols)
    return one(conn.execute(
        f"INSERT INTO agents ({', '.join(cols)}) VALUES ({placeholders}) RETURNING {_COLUMNS}",
        {"workspace_id": workspace_id, **values},
    ).fetchone())


def get_agent(conn: Conn, workspace_id: int, agent_id: int, for_update: bool = False) -> dict | None:
    lock = " FOR UPDATE" if for_update else ""
    return conn.execute(
        f"SELECT {_COLUMNS} FROM agents WHERE id = %s AND workspace_id = %s AND deleted_at IS NULL{lock}",
        (agent_id, workspace_id),
    ).fetchone()


def list_agents(conn: Conn, workspace_id: int, limit: int, offset: int) -> tuple[list[dict], int]:
    rows = conn.execute(
        f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM agents"
        " WHERE workspace_id = %s AND deleted_at IS NULL ORDER BY id LIMIT %s OFFSET %s",
        (workspace_id, limit, offset),
    ).fetchall()
    total = rows[0]["total"] if rows else _count_agents(conn, workspace_id)
    return [{k: v for k, v in r.items() if k != "total"} for r in rows], total


def _count_agents(conn: Conn, workspace_id: int) -> int:
    return one(conn.execute(
        "SELECT count(*) AS n FROM agents WHERE workspace_id = %s AND deleted_at IS NULL", (workspace_id,)
    ).fetchone())["n"]


def update_agent(conn: Conn, workspace_id: int, agent_id: int, values: dict) -> dict | None:
    values = _adapt({k: v for k, v in values.items() if k in _MUTABLE})
    if not values:
        return get_agent(conn, workspace_id, agent_id)
    assignments = ", ".join(f"{c} = %({c})s" for c in values)
    return conn.execute(
        f"UPDATE agents SET {assignments}, updated_at = now()"
        " WHERE id = %(id)s AND workspace_id = %(ws)s AND deleted_at IS NULL RETURNING " + _COLUMNS,
        {**values, "id": agent_id, "ws": workspace_id},
    ).fetchone()


def soft_delete_agent(conn: Conn, workspace_id: int, agent_id: int) -> bool:
    row = conn.execute(
        "UPDATE agents SET deleted_at = now() WHERE id = %s AND workspace_id = %s AND deleted_at IS NULL RETURNING id",
        (agent_id, workspace_id),
    ).fetchone()
    return row is not None
