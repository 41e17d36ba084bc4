"""Standard metric results: one row per (call, metric_key), written once from `pending`."""
from __future__ import annotations

from typing import Any, TypedDict, cast

from psycopg.types.json import Jsonb

from app.db.pool import Conn


class ResultRow(TypedDict):
    """A standard result as finalize, the verdicts, code metrics and the API read it."""

    metric_key: str
    status: str                      # pending | computed | failed | skipped (app/status.py)
    source: str | None               # audio | transcript, when computed
    result_data: dict[str, Any] | None
    error_code: str | None           # the failure code or the skip reason
    error_message: str | None
    passed: bool | None              # the agent's criterion on it, if any
    critical: bool


def pending_metric_keys(conn: Conn, call_id: int) -> list[str]:
    return [r["metric_key"] for r in conn.execute(
        "SELECT metric_key FROM metric_results WHERE call_id = %s AND status = 'pending' ORDER BY metric_key",
        (call_id,),
    )]


def complete_result(conn: Conn, call_id: int, metric_key: str, status: str, *,
                    source: str | None = None, result_data: dict | None = None,
                    error_code: str | None = None, error_message: str | None = None) -> bool:
    """Compare-and-set pending → status; False when it was already written (a redelivery)."""
    row = conn.execute(
        "UPDATE metric_results SET status = %s, source = %s, result_data = %s, error_code = %s,"
        " error_message = %s, updated_at = now()"
        " WHERE call_id = %s AND metric_key = %s AND status = 'pending' RETURNING id",
        (status, source, Jsonb(result_data) if result_data is not None else None, error_code,
         error_message, call_id, metric_key),
    ).fetchone()
    return row is not None


def plan_results(conn: Conn, call_id: int, branch: str, metric_keys: list[str]) -> None:
    """Record which branch computes these pending results (a failing branch fails only its own)."""
    if metric_keys:
        conn.execute(
            "UPDATE metric_results SET planned_branch = %s WHERE call_id = %s AND metric_key = ANY(%s)"
            " AND status = 'pending'",
            (branch, call_id, metric_keys),
        )


def pending_keys_of_branch(conn: Conn, call_id: int, branch: str) -> list[str]:
    return [r["metric_key"] for r in conn.execute(
        "SELECT metric_key FROM metric_results WHERE call_id = %s AND status = 'pending'"
        " AND planned_branch = %s ORDER BY metric_key",
        (call_id, branch),
    )]


def call_results(conn: Conn, call_id: int) -> list[ResultRow]:
    return cast("list[ResultRow]", conn.execute(
        "SELECT metric_key, status, source, result_data, error_code, error_message, passed, critical"
        " FROM metric_results WHERE call_id = %s ORDER BY id",
        (call_id,),
    ).fetchall())


def set_verdict(conn: Conn, call_id: int, metric_key: str, passed: bool | None, critical: bool) -> None:
    """Record whether a standard result met the agent's pass criteria (docs/metrics.md#pass-criteria)."""
    conn.execute("UPDATE metric_results SET passed = %s, critical = %s WHERE call_id = %s AND metric_key = %s",
                 (passed, critical, call_id, metric_key))


def computed_result_data(conn: Conn, call_id: int, metric_key: str) -> dict | None:
    row = conn.execute("SELECT result_data FROM metric_results WHERE call_id = %s AND metric_key = %s"
                       " AND status = 'computed'", (call_id, metric_key)).fetchone()
    return row["result_data"] if row else None


def add_to_result_data(conn: Conn, call_id: int, metric_key: str, name: str, value: dict) -> None:
    """Set one key of a computed result's data (finalize's annotations, e.g. reported latency)."""
    conn.execute("UPDATE metric_results SET result_data = result_data || jsonb_build_object(%s::text, %s::jsonb)"
                 " WHERE call_id = %s AND metric_key = %s AND status = 'computed'",
                 (name, Jsonb(value), call_id, metric_key))
