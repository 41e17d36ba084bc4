"""Liveness and readiness probes, and the Prometheus endpoint (no authentication)."""
from __future__ import annotations

from flask import Blueprint, Response

from app import telemetry
from app.api.request import deps
from app.service.health import readiness
from app.service.monitoring import backlog

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    checks = readiness(deps())
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503


@bp.get("/metrics")
def metrics():
    """Prometheus text format: this instance's request counts (every gunicorn worker's, in
    multi-process mode) and the backlog read now (docs/operations.md#metrics)."""
    body, content_type = telemetry.exposition(deps().settings.metrics_dir, lambda: backlog(deps()))
    return Response(body, content_type=content_type)
