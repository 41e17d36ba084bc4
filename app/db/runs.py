"""Re-analysis: a finished call's results kept as an earlier run, the call sent back to pending
(docs/api.md#re-analysis), and bulk jobs over a filter."""
from __future__ import annotations

from psycopg.types.json import Jsonb

from app.db.calls import filter_conditions
from app.db.history import record_transition
from app.db.pool import Conn, one
from app.status import FETCHED, NOT_APPLICABLE, PENDING

_RESULT_FIELDS = "metric_key, status, source, result_data, error_code, error_message, passed, critical"
_CUSTOM_FIELDS = ("r.metric_id, r.metric_version AS version, v.name, r.kind, r.status, r.result, r.explanation,"
                  " r.structured_output, r.passed, r.error_code, r.error_message, r.usage, r.duration_ms")


def reset_for_reanalysis(conn: Conn, workspace_id: int, call_id: int, options: dict) -> str:
    """Keep the call's current results as run N, reset the chosen ones to pending and the call
    to pending for run N+1 — one transaction, under the call's row lock. Returns `reset`, or
    `in_progress` (the call is still pending: nothing changed) or `missing`.

    options: standard_metrics (keys) and metric_ids (custom) — both None: everything;
    metric_versions: `current` (each custom metric's current version) or `original`."""
    call = conn.execute(
        "SELECT id, analysis_status, analysis_run, transcript, recording_key, source_recording_url, observation_type"
        " FROM calls WHERE id = %s AND workspace_id = %s FOR UPDATE", (call_id, workspace_id)).fetchone()
    if call is None:
        return "missing"
    if call["analysis_status"] == PENDING:
        return "in_progress"
    _snapshot(conn, call_id)
    everything = options.get("standard_metrics") is None and options.get("metric_ids") is None
    keys = None if everything else (options.get("standard_metrics") or [])
    ids = None if everything else (options.get("metric_ids") or [])
    conn.execute(
        "UPDATE metric_results SET status = 'pending', source = NULL, result_data = NULL, error_code = NULL,"
        " error_message = NULL, passed = NULL, planned_branch = NULL, updated_at = now()"
        " WHERE call_id = %s AND (%s::text[] IS NULL OR metric_key = ANY(%s::text[]))", (call_id, keys, keys))
    conn.execute(
        "UPDATE custom_results r SET status = 'pending', result = NULL, explanation = NULL, structured_output = NULL,"
        " passed = NULL, error_code = NULL, error_message = NULL, usage = NULL, duration_ms = NULL, updated_at = now(),"
        " metric_version = CASE WHEN %s = 'current' THEN m.version ELSE r.metric_version END"
        " FROM custom_metrics m WHERE m.id = r.metric_id AND m.deleted_at IS NULL AND r.call_id = %s"
        " AND (%s::bigint[] IS NULL OR r.metric_id = ANY(%s::bigint[]))",
        (options.get("metric_versions", "current"), call_id, ids, ids))
    _reset_call(conn, call)
    return "reset"


def _snapshot(conn: Conn, call_id: int) -> None:
    conn.execute(
        "INSERT INTO analysis_runs (call_id, run, analysis_status, call_success, failure_code, failure_message,"
        " results, custom_results, finished_at)"
        " SELECT c.id, c.analysis_run, c.analysis_status, c.call_success, c.failure_code, c.failure_message,"
        f" coalesce((SELECT jsonb_agg(to_jsonb(x) ORDER BY x.metric_key) FROM (SELECT {_RESULT_FIELDS}"
        "  FROM metric_results WHERE call_id = c.id) x), '[]'),"
        f" coalesce((SELECT jsonb_agg(to_jsonb(y) ORDER BY y.metric_id) FROM (SELECT {_CUSTOM_FIELDS}"
        "  FROM custom_results r JOIN custom_metric_versions v ON v.metric_id = r.metric_id"
        "  AND v.version = r.metric_version WHERE r.call_id = c.id) y), '[]'),"
        " c.progressed_at FROM calls c WHERE c.id = %s", (call_id,))


def _reset_call(conn: Conn, call: dict) -> None:
    """Branches start again: the audio from the stored recording (a platform's signed URL may
    have expired), or a fresh fetch when none was stored. Transcription is not repeated."""
    voice = call["observation_type"] == "voice"
    audio = FETCHED if call["recording_key"] else (
        PENDING if call["source_recording_url"] and voice else NOT_APPLICABLE)
    transcript = PENDING if call["transcript"] else NOT_APPLICABLE
    conn.execute(
        "UPDATE calls SET analysis_status = 'pending', analysis_run = analysis_run + 1, call_success = NULL,"
        " failure_code = NULL, failure_message = NULL, transcript_branch = %s, audio_branch = %s,"
        " llm_branch = 'pending', sweeps = 0, progressed_at = now(), updated_at = now() WHERE id = %s",
        (transcript, audio, call["id"]))
    conn.execute("DELETE FROM stage_runs WHERE call_id = %s", (call["id"],))  # delivery counts start again
    record_transition(conn, call["id"], "analysis_status", call["analysis_status"], PENDING, "reanalyze")


def earlier_runs(conn: Conn, call_id: int) -> list[dict]:
    return conn.execute(
        "SELECT run, analysis_status, call_success, failure_code, failure_message, results, custom_results,"
        " finished_at, replaced_at FROM analysis_runs WHERE call_id = %s ORDER BY run DESC", (call_id,)).fetchall()


def insert_job(conn: Conn, workspace_id: int, filters: dict, options: dict) -> dict:
    """A bulk job over the workspace's finished calls matching `filters`, as they are now."""
    conditions, params = filter_conditions(workspace_id, filters)
    where = " AND ".join([*conditions, "c.analysis_status <> 'pending'"])
    found = one(conn.execute(f"SELECT count(*) AS n, coalesce(max(c.id), 0) AS max_id FROM calls c WHERE {where}",
                             params).fetchone())
    return one(conn.execute(
        "INSERT INTO reanalysis_jobs (workspace_id, filters, options, total, max_id, status)"
        " VALUES (%s, %s, %s, %s, %s, CASE WHEN %s = 0 THEN 'done' ELSE 'running' END) RETURNING *",
        (workspace_id, Jsonb(filters), Jsonb(options), found["n"], found["max_id"], found["n"])).fetchone())


def get_job(conn: Conn, workspace_id: int | None, job_id: int, for_update: bool = False) -> dict | None:
    lock = " FOR UPDATE SKIP LOCKED" if for_update else ""
    if workspace_id is None:
        return conn.execute(f"SELECT * FROM reanalysis_jobs WHERE id = %s{lock}", (job_id,)).fetchone()
    return conn.execute(f"SELECT * FROM reanalysis_jobs WHERE id = %s AND workspace_id = %s{lock}",
                        (job_id, workspace_id)).fetchone()


def next_job_calls(conn: Conn, job: dict, limit: int) -> list[int]:
    """The job's next calls in id order (pending ones too: they are counted as skipped)."""
    conditions, params = filter_conditions(job["workspace_id"], job["filters"])
    where = " AND ".join([*conditions, "c.id > %(cursor)s", "c.id <= %(max_id)s"])
    rows = conn.execute(f"SELECT c.id FROM calls c WHERE {where} ORDER BY c.id LIMIT %(limit)s",
                        {**params, "cursor": job["cursor_id"], "max_id": job["max_id"], "limit": limit}).fetchall()
    return [r["id"] for r in rows]


def advance_job(conn: Conn, job_id: int, cursor_id: int, done: int, skipped: int, finished: bool) -> None:
    conn.execute(
        "UPDATE reanalysis_jobs SET cursor_id = %s, done = done + %s, skipped = skipped + %s, updated_at = now(),"
        " status = CASE WHEN %s THEN 'done' ELSE status END,"
        " finished_at = CASE WHEN %s THEN now() ELSE finished_at END WHERE id = %s",
        (cursor_id, done, skipped, finished, finished, job_id))


def stalled_jobs(conn: Conn, idle_seconds: float) -> list[int]:
    """Running jobs that made no progress for `idle_seconds` (their next batch was lost)."""
    rows = conn.execute("UPDATE reanalysis_jobs SET updated_at = now() WHERE id IN (SELECT id FROM reanalysis_jobs"
                        " WHERE status = 'running' AND updated_at < now() - make_interval(secs => %s)"
                        " FOR UPDATE SKIP LOCKED) RETURNING id", (idle_seconds,)).fetchall()
    return [r["id"] for r in rows]
