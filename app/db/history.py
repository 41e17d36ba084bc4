"""The status history of calls: one row per change, written in the changing transaction."""
from __future__ import annotations

from app.db.pool import Conn


def record_transition(conn: Conn, call_id: int, field: str, from_status: str | None,
                      to_status: str, code: str | None = None) -> None:
    conn.execute(
        "INSERT INTO call_status_history (call_id, field, from_status, to_status, code)"
        " VALUES (%s, %s, %s, %s, %s)",
        (call_id, field, from_status, to_status, code),
    )


def call_history(conn: Conn, call_id: int) -> list[dict]:
    return conn.execute(
        "SELECT field, from_status, to_status, code, at FROM call_status_history"
        " WHERE call_id = %s ORDER BY id",
        (call_id,),
    ).fetchall()
