"""Liveness and readiness probes (no authentication)."""
from __future__ import annotations

from flask import Blueprint

from app.api.request import deps
from app.service.health import readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    checks = readiness(deps())
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
