"""The public HTTP API, mounted at /api/public/v1 (the hosted product's paths)."""
from __future__ import annotations

from flask import Flask

from app.api import agents, calls, health, integrations, metrics, openapi, reanalysis, recordings, webhooks
from app.api.errors import register_error_handlers
from app.api.observe import register_request_metrics
from app.paths import API_PREFIX

PREFIX = API_PREFIX


def register_api(app: Flask) -> None:
    for module in (calls, agents, metrics, recordings, integrations, webhooks, reanalysis, openapi):
        app.register_blueprint(module.bp, url_prefix=PREFIX)
    app.register_blueprint(health.bp)
    register_error_handlers(app)
    register_request_metrics(app)
