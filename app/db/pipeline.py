"""The pipeline's SQL: delivery counting, branch transitions and the join, finalize, sweeper.

Every transition is compare-and-set (`WHERE <column> = <expected>`) plus a history row in the
same transaction, so a redelivered stage finds its work done and changes nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg import sql
from psycopg.types.json import Jsonb

from app.db.history import record_transition
from app.db.pool import Conn
from app.db.webhooks import record_call_event
from app.status import BRANCH_TERMINAL, BRANCH_TRANSITIONS, BRANCHES, PENDING, TRANSCRIPTION_TRANSITIONS, can_transition

CALL_EVENTS = {"computed": "call.computed", "failed": "call.failed"}


class CallRow(TypedDict):
    """A call as the stages read it (load_call): the `calls` row and its agent's settings."""

    id: int
    workspace_id: int
    agent_id: int
    call_identifier: str
    observation_type: str            # voice | text
    call_direction: str              # inbound | outbound
    call_end_reason: str | None
    customer_number: str | None
    duration_seconds: int | None
    call_timestamp: datetime
    label: str | None
    tag: str | None
    metadata: dict[str, Any]
    source_recording_url: str | None
    recording_source: dict[str, Any] | None  # docs/integrations.md#recordings; None: source_recording_url
    integration_id: int | None
    transcript: list[dict[str, Any]] | None
    transcript_source: str | None    # provided | generated
    generated_transcript: list[dict[str, Any]] | None
    metric_ids: list[int] | None
    analysis_status: str             # app/status.py
    transcription_status: str
    transcript_branch: str
    audio_branch: str
    llm_branch: str
    recording_key: str | None
    recording_info: dict[str, Any] | None
    speech: dict[str, Any] | None
    failure_code: str | None
    failure_message: str | None
    call_success: bool | None
    sweeps: int
    created_at: datetime
    updated_at: datetime
    progressed_at: datetime
    # from the agent
    ai_channel: str                  # left | right | auto
    analysis_settings: dict[str, Any]
    standard_criteria: list[dict[str, Any]]


def load_call(conn: Conn, call_id: int) -> CallRow | None:
    """The whole call row plus its agent's analysis settings (workers only: no tenant filter)."""
    return cast("CallRow | None", conn.execute(
        "SELECT c.*, a.ai_channel, a.analysis_settings, a.standard_criteria"
        " FROM calls c JOIN agents a ON a.id = c.agent_id"
        " WHERE c.id = %s",
        (call_id,),
    ).fetchone())


def register_delivery(conn: Conn, call_id: int, stage: str) -> int:
    """Count one more start of `stage` for the call; returns the count including this one
    (0 when the call does not exist: it was erased while its task waited)."""
    row = conn.execute(
        "INSERT INTO stage_runs (call_id, stage, deliveries) SELECT id, %s, 1 FROM calls WHERE id = %s"
        " ON CONFLICT (call_id, stage) DO UPDATE SET deliveries = stage_runs.deliveries + 1,"
        " started_at = now() RETURNING deliveries",
        (stage, call_id),
    ).fetchone()
    return row["deliveries"] if row else 0


def finish_stage(conn: Conn, call_id: int, stage: str) -> None:
    conn.execute("UPDATE stage_runs SET finished_at = now() WHERE call_id = %s AND stage = %s", (call_id, stage))


def advance_branch(conn: Conn, call_id: int, branch: str, new_state: str,
                   code: str | None = None) -> tuple[bool, bool]:
    """Move `branch` to `new_state` under a row lock, if app/status.py allows that transition
    from its current state (a redelivered stage finds it already moved and changes nothing).

    Returns (changed, join_ready): join_ready is True only for the transaction that made the
    last branch terminal, so exactly one stage enqueues finalize (no result backend needed).
    """
    if branch not in BRANCHES:
        raise ValueError(f"unknown branch {branch}")
    row = conn.execute(f"SELECT {', '.join(BRANCHES)} FROM calls WHERE id = %s FOR UPDATE",
                       (call_id,)).fetchone()
    if row is None or not can_transition(BRANCH_TRANSITIONS[branch], row[branch], new_state):
        return False, False
    conn.execute(
        sql.SQL("UPDATE calls SET {} = %s, progressed_at = now(), updated_at = now() WHERE id = %s").format(
            sql.Identifier(branch)),
        (new_state, call_id),
    )
    record_transition(conn, call_id, branch, row[branch], new_state, code)
    states = {**row, branch: new_state}
    return True, all(states[b] in BRANCH_TERMINAL for b in BRANCHES) and new_state in BRANCH_TERMINAL


def set_recording(conn: Conn, call_id: int, key: str, info: dict) -> bool:
    """Record the stored recording; False when the call no longer exists (erased meanwhile)."""
    return conn.execute(
        "UPDATE calls SET recording_key = %s, recording_info = %s, progressed_at = now(), updated_at = now()"
        " WHERE id = %s",
        (key, Jsonb(info), call_id),
    ).rowcount == 1


def set_speech(conn: Conn, call_id: int, speech: dict) -> None:
    conn.execute("UPDATE calls SET speech = %s, updated_at = now() WHERE id = %s", (Jsonb(speech), call_id))


def set_transcription(conn: Conn, call_id: int, status: str, generated: list[dict] | None,
                      code: str | None = None) -> bool:
    """Compare-and-set transcription_status pending → status, storing the generated transcript;
    a call without a provided transcript also takes it as its transcript (source `generated`)."""
    if not can_transition(TRANSCRIPTION_TRANSITIONS, PENDING, status):
        raise ValueError(f"transcription cannot move to {status}")
    row = conn.execute(
        "UPDATE calls SET transcription_status = %(status)s, generated_transcript = %(generated)s,"
        " transcript = CASE WHEN transcript IS NULL THEN %(generated)s ELSE transcript END,"
        " transcript_source = CASE WHEN transcript IS NULL AND %(generated)s::jsonb IS NOT NULL THEN 'generated'"
        "  ELSE transcript_source END, progressed_at = now(), updated_at = now()"
        " WHERE id = %(id)s AND transcription_status = 'pending' RETURNING id",
        {"status": status, "generated": Jsonb(generated) if generated is not None else None, "id": call_id},
    ).fetchone()
    if row:
        record_transition(conn, call_id, "transcription_status", PENDING, status, code)
    return row is not None


def record_failure(conn: Conn, call_id: int, code: str, message: str) -> None:
    """Remember why the call cannot be analysed; the first failure wins."""
    conn.execute(
        "UPDATE calls SET failure_code = %s, failure_message = %s, updated_at = now()"
        " WHERE id = %s AND failure_code IS NULL",
        (code, message, call_id),
    )


def finalize_call(conn: Conn, call_id: int, status: str, call_success: bool | None,
                  code: str | None, message: str | None) -> bool:
    """Compare-and-set pending → status; False when another delivery already finalized it."""
    row = conn.execute(
        "UPDATE calls SET analysis_status = %s, call_success = %s,"
        " failure_code = coalesce(failure_code, %s), failure_message = coalesce(failure_message, %s),"
        " progressed_at = now(), updated_at = now()"
        " WHERE id = %s AND analysis_status = 'pending' RETURNING id",
        (status, call_success, code, message, call_id),
    ).fetchone()
    if row:
        record_transition(conn, call_id, "analysis_status", PENDING, status, code)
        # the webhook event is written with the status it announces (docs/webhooks.md)
        record_call_event(conn, call_id, CALL_EVENTS[status])
    return row is not None


def claim_stale_calls(conn: Conn, stale_after_seconds: int, limit: int) -> list[dict]:
    """Pending calls with no progress for the threshold: bump their sweep count and progress
    clock (so two sweepers never both take one: SKIP LOCKED) and return id + sweeps."""
    return conn.execute(
        "UPDATE calls SET sweeps = sweeps + 1, progressed_at = now() WHERE id IN ("
        "  SELECT id FROM calls WHERE analysis_status = 'pending'"
        "  AND progressed_at < now() - make_interval(secs => %s)"
        "  ORDER BY progressed_at LIMIT %s FOR UPDATE SKIP LOCKED)"
        " RETURNING id, sweeps",
        (stale_after_seconds, limit),
    ).fetchall()
