"""Integrations (one per platform account a workspace connects), and the signatures seen."""
from __future__ import annotations

from psycopg.types.json import Jsonb

from app.db.pool import Conn, one

_COLUMNS = ("id, workspace_id, platform, name, signing_secret, signing_secret_hint, api_key, api_key_hint,"
            " agent_map, default_agent_id, auto_create_agents, fetch_recordings, created_at, updated_at")
_MUTABLE = ("name", "signing_secret", "signing_secret_hint", "api_key", "api_key_hint", "agent_map",
            "default_agent_id", "auto_create_agents", "fetch_recordings")


def _adapt(values: dict) -> dict:
    return {k: Jsonb(v) if k == "agent_map" else v for k, v in values.items() if k in (*_MUTABLE, "platform")}


def insert_integration(conn: Conn, workspace_id: int, values: dict) -> dict:
    values = _adapt(values)
    cols = ["workspace_id", *values]
    return one(conn.execute(
        f"INSERT INTO integrations ({', '.join(cols)}) VALUES ({', '.join(f'%({c})s' for c in cols)})"
        f" RETURNING {_COLUMNS}",
        {"workspace_id": workspace_id, **values},
    ).fetchone())


def get_integration(conn: Conn, workspace_id: int | None, integration_id: int, for_update: bool = False) -> dict | None:
    """workspace_id None: the inbound endpoint, which knows only the id (the signature decides)."""
    lock = " FOR UPDATE" if for_update else ""
    if workspace_id is None:
        return conn.execute(f"SELECT {_COLUMNS} FROM integrations WHERE id = %s{lock}", (integration_id,)).fetchone()
    return conn.execute(f"SELECT {_COLUMNS} FROM integrations WHERE id = %s AND workspace_id = %s{lock}",
                        (integration_id, workspace_id)).fetchone()


def list_integrations(conn: Conn, workspace_id: int, limit: int, offset: int) -> tuple[list[dict], int]:
    rows = conn.execute(
        f"SELECT {_COLUMNS}, count(*) OVER () AS total FROM integrations WHERE workspace_id = %s"
        " ORDER BY id LIMIT %s OFFSET %s", (workspace_id, limit, offset)).fetchall()
    total = rows[0]["total"] if rows else one(conn.execute(
        "SELECT count(*) AS n FROM integrations WHERE workspace_id = %s", (workspace_id,)).fetchone())["n"]
    return [{k: v for k, v in r.items() if k != "total"} for r in rows], total


def update_integration(conn: Conn, integration_id: int, values: dict) -> dict:
    values = _adapt(values)
    if not values:
        return one(get_integration(conn, None, integration_id))
    assignments = ", ".join(f"{c} = %({c})s" for c in values)
    return one(conn.execute(
        f"UPDATE integrations SET {assignments}, updated_at = now() WHERE id = %(id)s RETURNING {_COLUMNS}",
        {**values, "id": integration_id}).fetchone())


def delete_integration(conn: Conn, workspace_id: int, integration_id: int) -> bool:
    """Past calls keep their data; their integration_id becomes null."""
    row = conn.execute("DELETE FROM integrations WHERE id = %s AND workspace_id = %s RETURNING id",
                       (integration_id, workspace_id)).fetchone()
    return row is not None


def map_agent(conn: Conn, integration_id: int, platform_agent_id: str, agent_id: int) -> None:
    conn.execute("UPDATE integrations SET agent_map = agent_map || jsonb_build_object(%s::text, %s::bigint),"
                 " updated_at = now() WHERE id = %s", (platform_agent_id, agent_id, integration_id))


def live_agent_ids(conn: Conn, workspace_id: int, agent_ids: list[int]) -> set[int]:
    rows = conn.execute("SELECT id FROM agents WHERE workspace_id = %s AND id = ANY(%s) AND deleted_at IS NULL",
                        (workspace_id, agent_ids)).fetchall()
    return {r["id"] for r in rows}


def remember_signature(conn: Conn, integration_id: int, digest: str, keep_seconds: int) -> bool:
    """Record an accepted signature; False when it was seen before (a replay). Prunes entries
    older than `keep_seconds` (their timestamps are refused as stale anyway)."""
    conn.execute("DELETE FROM integration_signatures WHERE seen_at < now() - make_interval(secs => %s)",
                 (keep_seconds,))
    row = conn.execute("INSERT INTO integration_signatures (integration_id, digest) VALUES (%s, %s)"
                       " ON CONFLICT DO NOTHING RETURNING digest", (integration_id, digest)).fetchone()
    return row is not None
