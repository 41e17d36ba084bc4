"""The dashboard's reads: the calls list with its headline numbers, and an agent's trends.
Plain SQL next to the function that runs it (docs/dashboard.md); every statement is confined
to one workspace by its first condition."""
from __future__ import annotations

from datetime import datetime

from app.db.pool import Conn, one

# Headline numbers of a call, from its standard results (NULL while not computed).
_HEADLINE = (
    " LEFT JOIN LATERAL (SELECT"
    "  max((r.result_data->>'average_ms')::float) FILTER (WHERE r.metric_key = 'latency_ms') AS avg_latency_ms,"
    "  sum((r.result_data->>'count')::int)"
    "   FILTER (WHERE r.metric_key IN ('user_interruptions', 'ai_interruptions')) AS interruptions,"
    "  count(*) FILTER (WHERE r.passed = false) AS failed_checks"
    "  FROM metric_results r WHERE r.call_id = c.id AND r.status = 'computed') h ON true"
)
_DURATION = "coalesce(c.duration_seconds::float, (c.recording_info->>'duration_seconds')::float)"

# sort key → ORDER BY expression (the direction is appended; id breaks ties)
SORTS = {
    "time": "c.call_timestamp",
    "duration": _DURATION,
    "latency": "h.avg_latency_ms",
    "interruptions": "h.interruptions",
}

# filter → SQL condition; values are always bound parameters
_CONDITIONS = {
    "agent_id": "c.agent_id = %(agent_id)s",
    "status": "c.analysis_status = %(status)s",
    "from": "c.call_timestamp >= %(from)s",
    "to": "c.call_timestamp < %(to)s",
    "success": "c.call_success IS NOT DISTINCT FROM %(success)s",
    "q": "(c.call_identifier ILIKE %(q)s ESCAPE '\\' OR c.metadata::text ILIKE %(q)s ESCAPE '\\')",
    # a metric that did not pass its criteria, or could not be computed at all
    "failing_standard": "EXISTS (SELECT 1 FROM metric_results f WHERE f.call_id = c.id"
                        " AND f.metric_key = %(failing_standard)s AND (f.passed = false OR f.status = 'failed'))",
    "failing_custom": "EXISTS (SELECT 1 FROM custom_results f WHERE f.call_id = c.id"
                      " AND f.metric_id = %(failing_custom)s AND (f.passed = false OR f.status = 'failed'))",
}


def like_pattern(text: str) -> str:
    """`text` as a literal substring for ILIKE (its %, _ and \\ escaped)."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_calls(conn: Conn, workspace_id: int, filters: dict, sort: str, descending: bool,
               limit: int, offset: int) -> tuple[list[dict], int]:
    """A page of the workspace's calls matching `filters` (keys of _CONDITIONS; None = no
    filter, except `success` whose None means "not judged"), and how many match in all."""
    params = {"workspace_id": workspace_id, "limit": limit, "offset": offset,
              **{k: v for k, v in filters.items() if k in _CONDITIONS}}
    where = " AND ".join(["c.workspace_id = %(workspace_id)s"] + [_CONDITIONS[k] for k in params if k in _CONDITIONS])
    total = one(conn.execute(f"SELECT count(*) AS n FROM calls c WHERE {where}", params).fetchone())["n"]
    direction = "DESC NULLS LAST" if descending else "ASC NULLS LAST"
    rows = conn.execute(
        f"SELECT c.id, c.call_identifier, c.agent_id, a.name AS agent_name, c.analysis_status, c.call_timestamp,"
        f" c.call_direction, c.call_success, c.tag, c.label, c.metadata, {_DURATION} AS duration_seconds,"
        " h.avg_latency_ms, h.interruptions, h.failed_checks"
        f" FROM calls c JOIN agents a ON a.id = c.agent_id{_HEADLINE} WHERE {where}"
        f" ORDER BY {SORTS[sort]} {direction}, c.id {'DESC' if descending else 'ASC'} LIMIT %(limit)s OFFSET %(offset)s",
        params,
    ).fetchall()
    return rows, total


def agent_choices(conn: Conn, workspace_id: int) -> list[dict]:
    """Every agent of the workspace (deleted ones too: their calls are still listed)."""
    return conn.execute(
        "SELECT id, name, deleted_at IS NOT NULL AS deleted FROM agents WHERE workspace_id = %s ORDER BY name, id",
        (workspace_id,),
    ).fetchall()


def custom_metric_choices(conn: Conn, workspace_id: int) -> list[dict]:
    return conn.execute(
        "SELECT m.id, v.name FROM custom_metrics m JOIN custom_metric_versions v"
        " ON v.metric_id = m.id AND v.version = m.version WHERE m.workspace_id = %s ORDER BY v.name, m.id",
        (workspace_id,),
    ).fetchall()


def agent_of_workspace(conn: Conn, workspace_id: int, agent_id: int) -> dict | None:
    return conn.execute(
        "SELECT id, name, ai_channel, analysis_settings, standard_criteria, deleted_at FROM agents"
        " WHERE id = %s AND workspace_id = %s",
        (agent_id, workspace_id),
    ).fetchone()


_COMPUTED_CALLS = (
    "WITH calls_in AS (SELECT c.id, (c.call_timestamp AT TIME ZONE 'UTC')::date AS day, c.call_success"
    " FROM calls c WHERE c.workspace_id = %(ws)s AND c.agent_id = %(agent)s AND c.analysis_status = 'computed'"
    " AND c.call_timestamp >= %(start)s AND c.call_timestamp < %(end)s)"
)


def _metric(key: str, expression: str) -> str:
    return (f"(SELECT {expression} FROM metric_results r WHERE r.call_id = ci.id"
            f" AND r.metric_key = '{key}' AND r.status = 'computed')")


_PER_CALL = (
    ", per_call AS (SELECT ci.day, ci.call_success, "
    + _metric("user_interruptions", "(r.result_data->>'count')::int") + " AS user_int, "
    + _metric("ai_interruptions", "(r.result_data->>'count')::int") + " AS ai_int, "
    + _metric("silence_detection", "(r.result_data->'ai_channel'->>'count')::int"
              " + (r.result_data->'user_channel'->>'count')::int") + " AS silences, "
    + _metric("talk_ratio", "(r.result_data->>'ratio')::float") + " AS talk_ratio FROM calls_in ci)"
)


def agent_daily(conn: Conn, workspace_id: int, agent_id: int, start: datetime, end: datetime) -> list[dict]:
    """Per UTC day of [start, end), and for the whole range (the row whose `day` is NULL), over
    the agent's computed calls: calls, per-call means of user/AI interruptions, silences and
    talk ratio, success rate (of the calls judged), and p50/p95 of every answered turn's latency."""
    params = {"ws": workspace_id, "agent": agent_id, "start": start, "end": end}
    per_call = conn.execute(
        _COMPUTED_CALLS + _PER_CALL +
        " SELECT day, count(*) AS calls, avg(user_int) AS user_interruptions, avg(ai_int) AS ai_interruptions,"
        " avg(silences) AS silences, avg(talk_ratio) AS talk_ratio,"
        " avg(call_success::int) AS success_rate, count(call_success) AS judged"
        " FROM per_call GROUP BY GROUPING SETS ((day), ()) ORDER BY day NULLS LAST",
        params,
    ).fetchall()
    latency = {r["day"]: r for r in conn.execute(
        _COMPUTED_CALLS + " SELECT ci.day, count(*) AS turns,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY (t->>'latency_ms')::float) AS p50_ms,"
        " percentile_cont(0.95) WITHIN GROUP (ORDER BY (t->>'latency_ms')::float) AS p95_ms"
        " FROM calls_in ci JOIN metric_results r ON r.call_id = ci.id AND r.metric_key = 'latency_ms'"
        "  AND r.status = 'computed'"
        " CROSS JOIN LATERAL jsonb_array_elements(coalesce(r.result_data->'turns', '[]'::jsonb)) t"
        " GROUP BY GROUPING SETS ((ci.day), ())",
        params,
    )}
    return [{**row, **{k: latency.get(row["day"], {}).get(k) for k in ("turns", "p50_ms", "p95_ms")}}
            for row in per_call]


def agent_custom_pass_rates(conn: Conn, workspace_id: int, agent_id: int, start: datetime, end: datetime) -> list[dict]:
    """Per custom metric and UTC day (and per metric over the range: `day` NULL): the share of
    the agent's computed calls whose result passed, among those with a verdict."""
    return conn.execute(
        _COMPUTED_CALLS + " SELECT r.metric_id, max(v.name) AS name, ci.day,"
        " avg(r.passed::int) AS pass_rate, count(r.passed) AS judged"
        " FROM calls_in ci JOIN custom_results r ON r.call_id = ci.id"
        " JOIN custom_metric_versions v ON v.metric_id = r.metric_id AND v.version = r.metric_version"
        " WHERE r.passed IS NOT NULL GROUP BY GROUPING SETS ((r.metric_id, ci.day), (r.metric_id))"
        " ORDER BY r.metric_id, ci.day NULLS LAST",
        {"ws": workspace_id, "agent": agent_id, "start": start, "end": end},
    ).fetchall()
