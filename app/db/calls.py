"""Calls as the API sees them: insert (idempotent per workspace), read, list, annotate."""
from __future__ import annotations

from psycopg.types.json import Jsonb

from app.db.outbox import INSERT_FOR_NEW_CALL
from app.db.pool import Conn, one

_INSERT_COLUMNS = (
    "workspace_id", "agent_id", "call_identifier", "observation_type", "call_direction",
    "call_end_reason", "customer_number", "duration_seconds", "call_timestamp", "label",
    "metadata", "source_recording_url", "transcript", "transcript_source", "metric_ids",
    "transcription_status", "transcript_branch", "audio_branch", "integration_id", "recording_source",
)
_JSON_COLUMNS = {"metadata", "transcript", "recording_source"}

_SUMMARY = (
    "c.id, c.call_identifier, c.workspace_id, c.agent_id, a.name AS agent_name,"
    " c.observation_type, c.analysis_status, c.transcription_status, c.call_direction,"
    " c.call_end_reason, c.call_timestamp, c.created_at, c.updated_at, c.customer_number,"
    " c.duration_seconds, c.label, c.tag, c.metadata, c.call_success, c.failure_code,"
    " c.failure_message, c.recording_key, c.recording_info, c.source_recording_url IS NOT NULL AS has_recording"
)
_DETAIL = _SUMMARY + ", c.transcript, c.transcript_source, c.speech, c.generated_transcript, c.analysis_run"

# Filters of GET /calls: query parameter → SQL condition (values are always bound parameters).
_FILTERS = {
    "agent_id": "c.agent_id = %({})s",
    "analysis_status": "c.analysis_status = %({})s",
    "observation_type": "c.observation_type = %({})s",
    "call_direction": "c.call_direction = %({})s",
    "call_end_reason": "c.call_end_reason = %({})s",
    "label": "c.label = %({})s",
    "tag": "c.tag = %({})s",
    "call_success": "c.call_success = %({})s",
    "from": "c.call_timestamp >= %({})s",
    "to": "c.call_timestamp <= %({})s",
}


def insert_call(conn: Conn, values: dict, metric_keys: list[str], outbox_task: str) -> dict:
    """Insert a call of a live agent of the workspace, with one pending result per metric key
    the agent has not disabled, one per custom metric that will run, the first history row and
    the outbox row of `outbox_task(call id)` — ONE statement, atomic on its own and a single
    round trip (the hot path of POST /calls; docs/pipeline.md#the-outbox).

    Returns {"agent_found": bool, "call_id": int | None}: call_id is None when the agent is
    not found or the workspace already has the call_identifier (the unique index decides
    between concurrent duplicates: never select-then-insert).
    """
    params = {c: (Jsonb(values[c]) if c in _JSON_COLUMNS and values.get(c) is not None else values.get(c))
              for c in _INSERT_COLUMNS}
    params["metric_keys"] = metric_keys
    params["custom_ids"] = values.get("metric_ids") or None
    params["outbox_task"] = outbox_task
    return one(conn.execute(
        "WITH agent AS (SELECT id, disabled_standard_metrics, enabled_metric_ids FROM agents"
        "  WHERE id = %(agent_id)s AND workspace_id = %(workspace_id)s AND deleted_at IS NULL),"
        f" new_call AS (INSERT INTO calls ({', '.join(_INSERT_COLUMNS)})"
        f"  SELECT {', '.join(f'%({c})s' for c in _INSERT_COLUMNS)} FROM agent"
        "  ON CONFLICT (workspace_id, call_identifier) DO NOTHING RETURNING id),"
        " pending AS (INSERT INTO metric_results (call_id, metric_key)"
        "  SELECT new_call.id, key FROM new_call, agent, unnest(%(metric_keys)s::text[]) WITH ORDINALITY AS k(key, n)"
        "  WHERE key <> ALL (agent.disabled_standard_metrics) ORDER BY n),"
        # custom metrics: the call's metric_ids when given, else the agent's enabled ones;
        # each result is pinned to the metric's current version
        " custom AS (INSERT INTO custom_results (call_id, metric_id, metric_version, kind)"
        "  SELECT new_call.id, m.id, m.version, v.kind FROM new_call, agent, custom_metrics m"
        "  JOIN custom_metric_versions v ON v.metric_id = m.id AND v.version = m.version"
        "  WHERE m.workspace_id = %(workspace_id)s AND m.deleted_at IS NULL AND CASE"
        "   WHEN %(custom_ids)s::bigint[] IS NULL THEN m.id = ANY(agent.enabled_metric_ids) AND v.enabled"
        "   ELSE m.id = ANY(%(custom_ids)s::bigint[]) END ORDER BY m.id),"
        " history AS (INSERT INTO call_status_history (call_id, field, from_status, to_status)"
        "  SELECT id, 'analysis_status', NULL, 'pending' FROM new_call),"
        f" outbox AS ({INSERT_FOR_NEW_CALL})"
        " SELECT EXISTS (SELECT 1 FROM agent) AS agent_found, (SELECT id FROM new_call) AS call_id",
        params,
    ).fetchone())


def call_id_by_identifier(conn: Conn, workspace_id: int, call_identifier: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM calls WHERE workspace_id = %s AND call_identifier = %s", (workspace_id, call_identifier)
    ).fetchone()
    return row["id"] if row else None


def get_call(conn: Conn, workspace_id: int, call_id: int) -> dict | None:
    return conn.execute(
        f"SELECT {_DETAIL} FROM calls c JOIN agents a ON a.id = c.agent_id"
        " WHERE c.id = %s AND c.workspace_id = %s",
        (call_id, workspace_id),
    ).fetchone()


def filter_conditions(workspace_id: int, filters: dict) -> tuple[list[str], dict]:
    """SQL conditions (on alias `c`) and their bound parameters for GET /calls' filters."""
    conditions = ["c.workspace_id = %(workspace_id)s"]
    params: dict = {"workspace_id": workspace_id}
    for name, value in filters.items():
        if name in _FILTERS and value is not None:
            key = f"f_{name}"
            conditions.append(_FILTERS[name].format(key))
            params[key] = value
    return conditions, params


def list_calls(conn: Conn, workspace_id: int, filters: dict, limit: int, offset: int
               ) -> tuple[list[dict], int]:
    """Newest first (call_timestamp, then id). Returns (page, total matching)."""
    conditions, params = filter_conditions(workspace_id, filters)
    params.update(limit=limit, offset=offset)
    where = " AND ".join(conditions)
    total = one(conn.execute(f"SELECT count(*) AS n FROM calls c WHERE {where}", params).fetchone())["n"]
    rows = conn.execute(
        f"SELECT {_SUMMARY} FROM calls c JOIN agents a ON a.id = c.agent_id WHERE {where}"
        " ORDER BY c.call_timestamp DESC, c.id DESC LIMIT %(limit)s OFFSET %(offset)s",
        params,
    ).fetchall()
    return rows, total


def lock_call_annotations(conn: Conn, workspace_id: int, call_id: int) -> dict | None:
    return conn.execute(
        "SELECT id, call_identifier, analysis_status, metadata FROM calls"
        " WHERE id = %s AND workspace_id = %s FOR UPDATE",
        (call_id, workspace_id),
    ).fetchone()


def update_call_annotations(conn: Conn, call_id: int, values: dict) -> None:
    allowed = ("label", "tag", "customer_number", "call_end_reason", "metadata")
    values = {k: (Jsonb(v) if k == "metadata" else v) for k, v in values.items() if k in allowed}
    if not values:
        return
    assignments = ", ".join(f"{c} = %({c})s" for c in values)
    conn.execute(f"UPDATE calls SET {assignments}, updated_at = now() WHERE id = %(id)s", {**values, "id": call_id})


def recording_state(conn: Conn, call_id: int) -> dict | None:
    """What decides whether a platform's late recording is worth a new run (locked)."""
    return conn.execute("SELECT id, workspace_id, analysis_status, recording_key, recording_source FROM calls"
                        " WHERE id = %s FOR UPDATE", (call_id,)).fetchone()


def set_recording_source(conn: Conn, call_id: int, source: dict, source_url: str) -> None:
    conn.execute("UPDATE calls SET recording_source = %s, source_recording_url = %s, updated_at = now()"
                 " WHERE id = %s", (Jsonb(source), source_url, call_id))


def merge_platform_event(conn: Conn, call_id: int, platform_data: dict, fields: dict) -> None:
    """A later event of a platform call: its platform data is merged into metadata.platform
    (newer keys win) and the scalar fields the call still lacks are filled in."""
    fillable = ("call_end_reason", "customer_number", "duration_seconds")
    fills = ", ".join(f"{c} = coalesce({c}, %({c})s)" for c in fillable)
    conn.execute(
        "UPDATE calls SET metadata = jsonb_set(metadata, '{platform}',"
        " coalesce(metadata->'platform', '{}'::jsonb) || %(platform)s), "
        f"{fills}, updated_at = now() WHERE id = %(id)s",
        {"platform": Jsonb(platform_data), "id": call_id, **{c: fields.get(c) for c in fillable}},
    )



def pending_ages(conn: Conn, bounds: list[int]) -> tuple[list[int], float]:
    """Pending calls counted by seconds since they were accepted — one count per age band: below
    bounds[0], from each bound to the next, from the last on — and the oldest one's age in
    seconds (0 with none). Reads only the pending rows (the `calls_stale` partial index)."""
    rows = conn.execute(
        """SELECT width_bucket(age, %(bounds)s::float8[]) AS band, count(*) AS calls, max(age) AS oldest
             FROM (SELECT extract(epoch FROM now() - created_at)::float8 AS age
                     FROM calls WHERE analysis_status = 'pending') pending
            GROUP BY band""", {"bounds": bounds}).fetchall()
    counts = [0] * (len(bounds) + 1)
    for row in rows:
        counts[row["band"]] = row["calls"]
    return counts, max((row["oldest"] for row in rows), default=0.0)
