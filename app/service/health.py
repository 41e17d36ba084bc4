"""Readiness: the database and the broker both answer."""
from __future__ import annotations

from app.db.pool import transaction
from app.errors import ServiceUnavailable
from app.service.deps import Deps


def readiness(deps: Deps) -> dict:
    checks = {"database": "ok", "broker": "ok"}
    try:
        with transaction(deps.pool) as conn:
            conn.execute("SELECT 1")
    except ServiceUnavailable:
        checks["database"] = "unreachable"
    if not deps.queue.ping():
        checks["broker"] = "unreachable"
    return checks
