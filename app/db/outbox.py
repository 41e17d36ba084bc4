"""The task outbox: tasks committed with the rows they are about, published by the relay
(app/relay.py, docs/pipeline.md#the-outbox). Functions take `conn` first and never commit."""
from __future__ import annotations

from typing import TypedDict

from app.db.pool import Conn, one

# The CTE term insert_call adds, so POST /calls stays one statement (see app/db/calls.py).
INSERT_FOR_NEW_CALL = "INSERT INTO task_outbox (task, object_id) SELECT %(outbox_task)s, id FROM new_call"


class OutboxTask(TypedDict):
    id: int
    task: str
    object_id: int
    waited_seconds: float  # from the commit that wrote it to the claim


def add_task(conn: Conn, task: str, object_id: int) -> None:
    """Queue `task(object_id)` for publishing once the caller's transaction commits."""
    conn.execute("INSERT INTO task_outbox (task, object_id) VALUES (%s, %s)", (task, object_id))


def claim_tasks(conn: Conn, limit: int) -> list[OutboxTask]:
    """Delete and return up to `limit` of the oldest tasks. Run it inside a transaction that is
    committed only after the tasks are published: a failed publish rolls the rows back. SKIP
    LOCKED lets relays in several processes work side by side, never taking the same row."""
    return conn.execute(  # type: ignore[return-value]
        "DELETE FROM task_outbox WHERE id IN ("
        "  SELECT id FROM task_outbox ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED)"
        " RETURNING id, task, object_id, extract(epoch FROM clock_timestamp() - created_at)::float8 AS waited_seconds",
        (limit,),
    ).fetchall()


# pg_try_advisory_lock key of the relay that leads (any fixed number no other code uses)
_LEADER_LOCK = 0x63616C6C73636F70  # "callscop"


def try_to_lead(conn: Conn) -> bool:
    """Take the relays' leadership for this session if no other session holds it. Released when
    the session ends (its process died, or its connection broke)."""
    return bool(one(conn.execute("SELECT pg_try_advisory_lock(%s) AS leads", (_LEADER_LOCK,)).fetchone())["leads"])


def outbox_backlog(conn: Conn) -> tuple[int, float]:
    """(tasks waiting, seconds the oldest has waited — 0 with none)."""
    row = one(conn.execute(
        "SELECT count(*) AS waiting, coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest"
        " FROM task_outbox").fetchone())
    return row["waiting"], row["oldest"]
