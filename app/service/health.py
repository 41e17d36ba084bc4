"""Readiness: the database and the broker both answer."""
from __future__ import annotations

from app.db.pool import ping, transaction
from app.errors import ServiceUnavailable
from app.service.deps import Deps


def readiness(deps: Deps) -> dict:
    checks = {"database": "ok", "broker": "ok"}
    try:
        with transaction(deps.pool) as conn:
            ping(conn)
    except ServiceUnavailable:
        checks["database"] = "unreachable"
    if not deps.queue.ping():
        checks["broker"] = "unreachable"
    return checks
