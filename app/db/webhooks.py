"""Outbound webhooks: endpoints, deliveries (one per event and endpoint) and their attempts."""
from __future__ import annotations

from datetime import datetime

from app.db.pool import Conn, one

_ENDPOINT = ("id, workspace_id, url, events, enabled, description, secret, secret_hint, previous_secret,"
             " previous_secret_expires_at, disabled_reason, disabled_at, created_at, updated_at")
_DELIVERY = ("id, endpoint_id, message_id, event_type, call_id, status, attempts, first_attempt_at,"
             " next_attempt_at, last_error, delivered_at, created_at")


def insert_endpoint(conn: Conn, workspace_id: int, values: dict) -> dict:
    cols = ["workspace_id", *values]
    return one(conn.execute(
        f"INSERT INTO webhook_endpoints ({', '.join(cols)}) VALUES ({', '.join(f'%({c})s' for c in cols)})"
        f" RETURNING {_ENDPOINT}", {"workspace_id": workspace_id, **values}).fetchone())


def get_endpoint(conn: Conn, workspace_id: int, endpoint_id: int, for_update: bool = False) -> dict | None:
    lock = " FOR UPDATE" if for_update else ""
    return conn.execute(f"SELECT {_ENDPOINT} FROM webhook_endpoints WHERE id = %s AND workspace_id = %s{lock}",
                        (endpoint_id, workspace_id)).fetchone()


def list_endpoints(conn: Conn, workspace_id: int, limit: int, offset: int) -> tuple[list[dict], int]:
    rows = conn.execute(f"SELECT {_ENDPOINT}, count(*) OVER () AS total FROM webhook_endpoints"
                        " WHERE workspace_id = %s ORDER BY id LIMIT %s OFFSET %s", (workspace_id, limit, offset)).fetchall()
    total = rows[0]["total"] if rows else one(conn.execute(
        "SELECT count(*) AS n FROM webhook_endpoints WHERE workspace_id = %s", (workspace_id,)).fetchone())["n"]
    return [{k: v for k, v in r.items() if k != "total"} for r in rows], total


def update_endpoint(conn: Conn, endpoint_id: int, values: dict) -> dict:
    """Re-enabling clears the reason it was disabled."""
    if values.get("enabled") is True:
        values = {**values, "disabled_reason": None, "disabled_at": None}
    assignments = ", ".join(f"{c} = %({c})s" for c in values)
    sets = f"{assignments}, " if values else ""
    return one(conn.execute(f"UPDATE webhook_endpoints SET {sets}updated_at = now() WHERE id = %(id)s"
                            f" RETURNING {_ENDPOINT}", {**values, "id": endpoint_id}).fetchone())


def delete_endpoint(conn: Conn, workspace_id: int, endpoint_id: int) -> bool:
    return conn.execute("DELETE FROM webhook_endpoints WHERE id = %s AND workspace_id = %s RETURNING id",
                        (endpoint_id, workspace_id)).fetchone() is not None


def rotate_secret(conn: Conn, endpoint_id: int, sealed: str, secret_hint: str, grace_seconds: int) -> dict:
    """The new secret signs from now on; the old one also signs for `grace_seconds`."""
    return one(conn.execute(
        "UPDATE webhook_endpoints SET previous_secret = secret,"
        " previous_secret_expires_at = now() + make_interval(secs => %s), secret = %s, secret_hint = %s,"
        f" updated_at = now() WHERE id = %s RETURNING {_ENDPOINT}",
        (grace_seconds, sealed, secret_hint, endpoint_id)).fetchone())


def record_call_event(conn: Conn, call_id: int, event_type: str) -> int:
    """One delivery per enabled endpoint of the call's workspace that wants `event_type`, in the
    caller's transaction (the one that finalizes the call: no event is lost, none is sent for a
    status that was rolled back). Returns how many."""
    return conn.execute(
        "INSERT INTO webhook_deliveries (endpoint_id, message_id, event_type, call_id, payload)"
        " SELECT e.id, 'msg_' || replace(gen_random_uuid()::text, '-', ''), %(type)s::text, c.id,"
        "  jsonb_build_object('type', %(type)s::text, 'timestamp', to_char(now() AT TIME ZONE 'UTC',"
        "   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'data', jsonb_build_object("
        "   'id', c.id, 'call_identifier', c.call_identifier, 'client_id', c.workspace_id, 'agent_id', c.agent_id,"
        "   'analysis_status', c.analysis_status, 'call_success', c.call_success,"
        "   'failure', CASE WHEN c.failure_code IS NULL OR c.analysis_status <> 'failed' THEN NULL"
        "    ELSE jsonb_build_object('code', c.failure_code, 'message', c.failure_message) END))"
        " FROM calls c JOIN webhook_endpoints e ON e.workspace_id = c.workspace_id"
        " WHERE c.id = %(call)s AND e.enabled AND %(type)s = ANY(e.events)",
        {"type": event_type, "call": call_id}).rowcount


def due_deliveries(conn: Conn, lease_seconds: float, limit: int, call_id: int | None = None) -> list[int]:
    """Claim pending deliveries that are due (of one call, or all): their next attempt is pushed
    `lease_seconds` ahead, so the next poll does not send them again while an attempt runs."""
    only_call = " AND d.call_id = %(call)s" if call_id is not None else ""
    rows = conn.execute(
        "UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => %(lease)s) WHERE id IN ("
        " SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
        f" WHERE d.status = 'pending' AND d.next_attempt_at <= now() AND e.enabled{only_call}"
        " ORDER BY d.next_attempt_at LIMIT %(limit)s FOR UPDATE OF d SKIP LOCKED) RETURNING id",
        {"lease": lease_seconds, "limit": limit, "call": call_id}).fetchall()
    return [r["id"] for r in rows]


def claim_delivery(conn: Conn, delivery_id: int, lease_seconds: float) -> dict | None:
    """The delivery and its endpoint, locked, if an attempt is due: pending (or a manual
    redelivery asked for) and the endpoint enabled. Its next attempt moves past the lease."""
    row = conn.execute(
        "SELECT d.id, d.message_id, d.payload, d.status, d.attempts, d.first_attempt_at, d.manual_requested_at,"
        " e.id AS endpoint_id, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at > now() AS previous_live"
        " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
        " WHERE d.id = %s AND e.enabled AND (d.status = 'pending' OR d.manual_requested_at IS NOT NULL)"
        " FOR UPDATE OF d SKIP LOCKED", (delivery_id,)).fetchone()
    if row:
        conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => %s),"
                     " first_attempt_at = coalesce(first_attempt_at, now()) WHERE id = %s", (lease_seconds, delivery_id))
    return row


def record_attempt(conn: Conn, delivery_id: int, status_code: int | None, error: str | None, duration_ms: int,
                   manual: bool) -> None:
    # SELECT, not VALUES: the delivery is gone when its call was erased during the attempt
    # (docs/webhooks.md#erasure), and then there is nothing to record
    conn.execute("INSERT INTO webhook_attempts (delivery_id, status_code, error, duration_ms, manual)"
                 " SELECT id, %s, %s, %s, %s FROM webhook_deliveries WHERE id = %s",
                 (status_code, error, duration_ms, manual, delivery_id))


def mark_delivered(conn: Conn, delivery_id: int) -> None:
    conn.execute("UPDATE webhook_deliveries SET status = 'delivered', delivered_at = now(), attempts = attempts + 1,"
                 " last_error = NULL, manual_requested_at = NULL WHERE id = %s", (delivery_id,))


def mark_failed_attempt(conn: Conn, delivery_id: int, error: str, next_attempt_at: datetime | None,
                        manual: bool) -> None:
    """Another failure: retry at `next_attempt_at`, or give up (None). A manual attempt leaves
    the schedule as it was."""
    if manual:
        conn.execute("UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = %s,"
                     " manual_requested_at = NULL, next_attempt_at = greatest(next_attempt_at, now())"
                     " WHERE id = %s", (error, delivery_id))
        return
    conn.execute("UPDATE webhook_deliveries SET attempts = attempts + 1, last_error = %s,"
                 " status = CASE WHEN %s::timestamptz IS NULL THEN 'failed' ELSE status END,"
                 " next_attempt_at = coalesce(%s::timestamptz, next_attempt_at) WHERE id = %s",
                 (error, next_attempt_at, next_attempt_at, delivery_id))


def disable_if_nothing_succeeded(conn: Conn, endpoint_id: int, since: datetime, reason: str) -> bool:
    """Disable the endpoint when none of its deliveries succeeded since `since`."""
    return conn.execute(
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = %s, disabled_at = now(), updated_at = now()"
        " WHERE id = %s AND enabled AND NOT EXISTS (SELECT 1 FROM webhook_deliveries"
        "  WHERE endpoint_id = %s AND delivered_at >= %s) RETURNING id",
        (reason, endpoint_id, endpoint_id, since)).fetchone() is not None


def list_deliveries(conn: Conn, endpoint_id: int, limit: int, offset: int) -> tuple[list[dict], int]:
    rows = conn.execute(
        f"SELECT {_DELIVERY}, coalesce((SELECT jsonb_agg(jsonb_build_object('attempted_at', a.attempted_at,"
        " 'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms, 'manual', a.manual)"
        " ORDER BY a.id) FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]') AS attempt_log,"
        " count(*) OVER () AS total FROM webhook_deliveries d WHERE endpoint_id = %s"
        " ORDER BY id DESC LIMIT %s OFFSET %s", (endpoint_id, limit, offset)).fetchall()
    total = rows[0]["total"] if rows else one(conn.execute(
        "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = %s", (endpoint_id,)).fetchone())["n"]
    return [{k: v for k, v in r.items() if k != "total"} for r in rows], total


def request_redelivery(conn: Conn, endpoint_id: int, delivery_id: int) -> dict | None:
    return conn.execute(
        "UPDATE webhook_deliveries SET manual_requested_at = now() WHERE id = %s AND endpoint_id = %s"
        f" RETURNING {_DELIVERY}", (delivery_id, endpoint_id)).fetchone()
