"""Delivering our events to the workspace's webhook endpoints (docs/webhooks.md).

Signed per the Standard Webhooks specification: `webhook-id` (the delivery's message id, the
same on every attempt), `webhook-timestamp` (seconds) and `webhook-signature` (`v1,<base64
HMAC-SHA256 of "<id>.<timestamp>.<body>">`, space-separated, one per live secret during a
rotation). Retries wait in Postgres (`next_attempt_at`), not in the broker: a delay of hours
would outlive Redis' visibility timeout and be delivered twice. Beat's `webhooks.poll` sends
what is due; every attempt is a row in `webhook_attempts`.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import random
import time
from datetime import UTC, datetime, timedelta

from app.db import webhooks as webhooks_db
from app.db.pool import transaction
from app.secretbox import SecretBox
from workers.context import WorkerDeps
from workers.failure import StageFailure

log = logging.getLogger(__name__)

POLL_BATCH = 200
# A claimed delivery is not sent again for this long: more than one attempt can take.
_LEASE_MARGIN_SECONDS = 30.0
_ERRORS = {"recording_forbidden_address": "target_forbidden_address", "recording_unreachable": "target_unreachable"}


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<signature>` for a `whsec_` secret."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def retry_delay(settings, attempts_done: int) -> float:
    """Exponential backoff with jitter: base·2ⁿ, capped, drawn uniformly in [½, 1] of it (so
    endpoints that failed together do not come back together)."""
    ceiling = min(settings.webhook_retry_max_delay_seconds, settings.webhook_retry_base_seconds * 2 ** attempts_done)
    return random.uniform(ceiling / 2, ceiling)


def lease_seconds(deps: WorkerDeps) -> float:
    limits = deps.webhook_client.limits if deps.webhook_client else None
    return (limits.connect_timeout + limits.read_timeout if limits else 0) + _LEASE_MARGIN_SECONDS


def due_deliveries(deps: WorkerDeps, call_id: int | None = None) -> list[int]:
    """Claim the deliveries that are due (of one finalized call, or all): their ids, to send."""
    with transaction(deps.pool) as conn:
        return webhooks_db.due_deliveries(conn, lease_seconds(deps), POLL_BATCH, call_id)


def attempt_delivery(deps: WorkerDeps, delivery_id: int) -> str | None:
    """One attempt of a delivery: 'delivered', 'retry', 'failed' (schedule exhausted), or None
    when there was nothing to do (delivered already, endpoint disabled, another attempt running)."""
    with transaction(deps.pool) as conn:
        row = webhooks_db.claim_delivery(conn, delivery_id, lease_seconds(deps))
    if row is None:
        return None
    manual = row["manual_requested_at"] is not None
    body = json.dumps(row["payload"], separators=(",", ":"), ensure_ascii=False).encode()
    started = time.monotonic()
    status_code, error = _send(deps, row, body)
    elapsed_ms = round((time.monotonic() - started) * 1000)
    with transaction(deps.pool) as conn:
        webhooks_db.record_attempt(conn, delivery_id, status_code, error, elapsed_ms, manual)
        if error is None:
            webhooks_db.mark_delivered(conn, delivery_id)
            return "delivered"
        next_at = _next_attempt(deps, row)
        webhooks_db.mark_failed_attempt(conn, delivery_id, error, next_at, manual)
        if next_at is None and not manual:
            first = row["first_attempt_at"] or datetime.now(UTC)
            hours = deps.settings.webhook_retry_window_seconds / 3600
            reason = (f"No delivery succeeded since {first.isoformat(timespec='seconds')} "
                      f"(retried for {hours:g} h); last error: {error}")
            if webhooks_db.disable_if_nothing_succeeded(conn, row["endpoint_id"], first, reason):
                log.warning("webhook endpoint disabled", extra={"endpoint_id": row["endpoint_id"], "reason": reason})
            return "failed"
    return "retry"


def _send(deps: WorkerDeps, row: dict, body: bytes) -> tuple[int | None, str | None]:
    """(status code, error): error None on a 2xx."""
    box = SecretBox.from_settings(deps.settings)
    secrets = [box.open(row["secret"])]
    if row["previous_secret"] and row["previous_live"]:
        secrets.append(box.open(row["previous_secret"]))
    timestamp = int(time.time())
    headers = {"content-type": "application/json", "webhook-id": row["message_id"],
               "webhook-timestamp": str(timestamp),
               "webhook-signature": " ".join(sign(s, row["message_id"], timestamp, body) for s in secrets)}
    try:
        assert deps.webhook_client is not None  # built by the worker's composition root
        status = deps.webhook_client.post(row["url"], body, headers)
    except StageFailure as failure:
        return None, f"{_ERRORS.get(failure.code, failure.code)}: {failure.message}"
    if 200 <= status < 300:
        return status, None
    return status, f"the endpoint answered {status}"


def _next_attempt(deps: WorkerDeps, row: dict) -> datetime | None:
    """When to try again, or None when the retry window since the first attempt is spent."""
    now = datetime.now(UTC)
    first = row["first_attempt_at"] or now
    at = now + timedelta(seconds=retry_delay(deps.settings, row["attempts"]))
    if at - first > timedelta(seconds=deps.settings.webhook_retry_window_seconds):
        return None
    return at
