"""Request metrics (docs/operations.md#metrics): every answer counted by route template, method
and status, timed, and an error's code counted — from one pair of hooks, so views stay thin."""
from __future__ import annotations

import time

from flask import Flask, Response, g, request

from app import telemetry

# a client may send any method name; a label per invented one would grow without bound
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def register_request_metrics(app: Flask) -> None:
    @app.before_request
    def _start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        # the rule's template, never the raw path: one series per route, whatever the ids
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        telemetry.HTTP_REQUESTS.labels(route, method, str(response.status_code)).inc()
        started = g.get("metrics_started")
        if started is not None:
            telemetry.HTTP_DURATION.labels(route, method).observe(time.perf_counter() - started)
        if response.status_code >= 400:
            body = response.get_json(silent=True) if response.is_json else None
            error = body.get("error") if isinstance(body, dict) else None
            code = error.get("code") if isinstance(error, dict) else None
            telemetry.HTTP_ERRORS.labels(str(response.status_code), code or "none").inc()
        return response
