"""Where the public API is mounted (the hosted product's paths, docs/api.md): one home for the
prefix, used by the blueprints, Location headers, links in responses, the OpenAPI document and
the local store's signed recording URLs."""
from __future__ import annotations

API_PREFIX = "/api/public/v1"
# The dashboard (docs/dashboard.md): same app, its own prefix.
DASHBOARD_PREFIX = "/dashboard"
