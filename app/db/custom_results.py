"""Custom metric results: one row per (call, custom metric), pinned to the metric version that
was current when the call was submitted, written once from `pending`."""
from __future__ import annotations

from typing import Any, TypedDict, cast

from psycopg.types.json import Jsonb

from app.db.pool import Conn


class CustomResultRow(TypedDict):
    """A custom result with the name and type of the metric version it was judged by."""

    metric_id: int
    version: int
    name: str
    kind: str                        # llm | code
    result_type: str                 # boolean | rating | enum | numeric
    critical: bool
    status: str                      # pending | computed | failed | skipped (app/status.py)
    result: Any
    explanation: str | None
    structured_output: dict[str, Any] | None
    passed: bool | None
    error_code: str | None
    error_message: str | None
    usage: dict[str, Any] | None
    duration_ms: int | None
    pass_criteria: dict[str, Any] | None   # of the version judged by (the dashboard shows it)

_DEFINITION = ("v.name, v.kind, v.result_type, v.prompt, v.code, v.enum_values, v.pass_criteria, v.critical,"
               " v.redact")
_FROM = (" FROM custom_results r JOIN custom_metric_versions v"
         " ON v.metric_id = r.metric_id AND v.version = r.metric_version")


def pending_judgements(conn: Conn, call_id: int, kind: str) -> list[dict]:
    """Pending results of one kind (`llm` | `code`) with the definition they are judged by."""
    return conn.execute(
        f"SELECT r.metric_id, r.metric_version AS version, {_DEFINITION}{_FROM}"
        " WHERE r.call_id = %s AND r.kind = %s AND r.status = 'pending' ORDER BY r.metric_id",
        (call_id, kind),
    ).fetchall()


def complete_custom_result(conn: Conn, call_id: int, metric_id: int, status: str, *,
                           result=None, explanation: str | None = None, structured_output: dict | None = None,
                           passed: bool | None = None, error_code: str | None = None,
                           error_message: str | None = None, usage: dict | None = None,
                           duration_ms: int | None = None) -> bool:
    """Compare-and-set pending → status; False when it was already written (a redelivery)."""
    row = conn.execute(
        "UPDATE custom_results SET status = %s, result = %s, explanation = %s, structured_output = %s,"
        " passed = %s, error_code = %s, error_message = %s, usage = %s, duration_ms = %s, updated_at = now()"
        " WHERE call_id = %s AND metric_id = %s AND status = 'pending' RETURNING id",
        (status, Jsonb(result) if result is not None else None, explanation,
         Jsonb(structured_output) if structured_output else None, passed, error_code, error_message,
         Jsonb(usage) if usage else None, duration_ms, call_id, metric_id),
    ).fetchone()
    return row is not None


def fail_pending_custom_results(conn: Conn, call_id: int, code: str, message: str,
                                kind: str | None = None) -> int:
    """Fail every pending custom result of the call (of one kind, if given); returns how many."""
    return conn.execute(
        "UPDATE custom_results SET status = 'failed', error_code = %s, error_message = %s, updated_at = now()"
        " WHERE call_id = %s AND status = 'pending' AND (%s::text IS NULL OR kind = %s)",
        (code, message, call_id, kind, kind),
    ).rowcount


def skip_pending_custom_results(conn: Conn, call_id: int, kind: str, reason: str) -> None:
    conn.execute(
        "UPDATE custom_results SET status = 'skipped', error_code = %s, updated_at = now()"
        " WHERE call_id = %s AND kind = %s AND status = 'pending'",
        (reason, call_id, kind),
    )


def call_custom_results(conn: Conn, call_id: int) -> list[CustomResultRow]:
    """Every custom result of the call, with the name and type of the version it used."""
    return cast("list[CustomResultRow]", conn.execute(
        "SELECT r.metric_id, r.metric_version AS version, v.name, v.kind, v.result_type, v.critical,"
        " r.status, r.result, r.explanation, r.structured_output, r.passed, r.error_code, r.error_message,"
        f" r.usage, r.duration_ms, v.pass_criteria{_FROM} WHERE r.call_id = %s ORDER BY r.metric_id",
        (call_id,),
    ).fetchall())
