"""The backlog an operator watches: messages per queue, pending calls by age, tasks in the outbox
(docs/operations.md#metrics)."""
from __future__ import annotations

from app.db import calls as calls_db
from app.db import outbox as outbox_db
from app.db.pool import transaction
from app.errors import ServiceUnavailable
from app.service.deps import Deps
from app.telemetry import PENDING_AGES, Backlog


def backlog(deps: Deps) -> Backlog:
    """Read now, at each scrape. A database or broker that does not answer leaves its series out
    (and says so in callscope_database_up / callscope_broker_up) rather than fail the scrape."""
    bounds = [bound for _, bound in PENDING_AGES if bound is not None]
    try:
        with transaction(deps.pool) as conn:
            counts, oldest = calls_db.pending_ages(conn, bounds)
            outbox = outbox_db.outbox_backlog(conn)
    except ServiceUnavailable:
        return Backlog(deps.queue.depths(), None, None)
    return Backlog(deps.queue.depths(), {age: count for (age, _), count in zip(PENDING_AGES, counts)}, oldest,
                   outbox)
