"""The OpenAPI 3 description of the public API, generated from the marshmallow schemas (never
written by hand), served at /api/public/v1/openapi.json with a docs page beside it.

OPERATIONS below is the one list of documented operations: method, path, schemas, statuses.
tests/api/test_openapi.py checks that every route of the app is in it and that the committed
copy (docs/openapi.json) is what this module generates.
"""
from __future__ import annotations

from importlib import resources

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint

from app.api import hook_schemas as h
from app.api import responses as r
from app.api import schemas as s
from app.paths import API_PREFIX

bp = Blueprint("openapi", __name__)
PREFIX = API_PREFIX
_ERRORS = {
    400: "The body is not a JSON object (or not valid JSON).",
    401: "Missing, malformed, expired, revoked or wrongly signed token.",
    404: "No such resource in the token's workspace.",
    409: "The resource already exists: the workspace's call_identifier (details.id is the existing call) "
         "or a live metric's name.",
    413: "The request body is larger than the limit.",
    415: "The body is not sent as application/json.",
    422: "The body or query failed validation; details map dotted field paths to messages.",
    429: "The token's rate limit is spent; see Retry-After.",
    503: "The database (for an erasure: the recording store) is unreachable; retry.",
}
_AUTH = [401, 429, 503]

# (method, path, summary, request schema, query schema, success status, response schema, errors)
OPERATIONS = [
    ("post", "/calls", "Submit a call for analysis", s.CallCreateSchema, None, 202, r.CallAcceptedSchema,
     [400, 404, 409, 413, 415, 422]),
    ("get", "/calls", "List calls", None, s.CallListQuerySchema, 200, r.PageOfCallsSchema, [422]),
    ("get", "/calls/{ref}", "Get a call by id or call_identifier", None, None, 200, r.CallDetailSchema, [404]),
    ("delete", "/calls/{ref}", "Erase a call: its results and its stored recording (idempotent)", None, None,
     204, None, []),
    ("patch", "/calls/{ref}", "Update a call's annotations", s.CallPatchSchema, None, 200, r.CallAcceptedSchema,
     [400, 404, 413, 415, 422]),
    ("post", "/agents", "Create an agent", s.AgentCreateSchema, None, 201, r.AgentSchema, [400, 413, 415, 422]),
    ("get", "/agents", "List agents", None, s.PageSchema, 200, r.PageOfAgentsSchema, [422]),
    ("get", "/agents/{agent_id}", "Get an agent", None, None, 200, r.AgentSchema, [404]),
    ("patch", "/agents/{agent_id}", "Update an agent", s.AgentPatchSchema, None, 200, r.AgentSchema,
     [400, 404, 413, 415, 422]),
    ("delete", "/agents/{agent_id}", "Delete an agent (soft)", None, None, 204, None, [404]),
    ("get", "/metrics/standard", "The standard metric catalogue", None, None, 200, r.StandardCatalogueSchema, []),
    ("post", "/metrics", "Create a custom metric", s.MetricCreateSchema, None, 201, r.MetricSchema,
     [400, 409, 413, 415, 422]),
    ("get", "/metrics", "List custom metrics", None, s.PageSchema, 200, r.PageOfMetricsSchema, [422]),
    ("get", "/metrics/{metric_id}", "Get a custom metric (current version)", None, None, 200, r.MetricSchema, [404]),
    ("get", "/metrics/{metric_id}/versions", "Every version of a custom metric", None, None, 200,
     r.MetricVersionsSchema, [404]),
    ("patch", "/metrics/{metric_id}", "Update a custom metric (creates a new version)", s.MetricPatchSchema, None,
     200, r.MetricSchema, [400, 404, 409, 413, 415, 422]),
    ("delete", "/metrics/{metric_id}", "Delete a custom metric (past results stay readable)", None, None, 204,
     None, [404]),
    ("post", "/integrations", "Connect a voice platform (Vapi, Retell, ElevenLabs)", h.IntegrationCreateSchema, None,
     201, h.IntegrationSchema, [400, 413, 415, 422]),
    ("get", "/integrations", "List integrations", None, s.PageSchema, 200, h.PageOfIntegrationsSchema, [422]),
    ("get", "/integrations/{integration_id}", "Get an integration", None, None, 200, h.IntegrationSchema, [404]),
    ("patch", "/integrations/{integration_id}", "Update an integration (a new secret rotates it)",
     h.IntegrationPatchSchema, None, 200, h.IntegrationSchema, [400, 404, 413, 415, 422]),
    ("delete", "/integrations/{integration_id}", "Delete an integration (its calls stay)", None, None, 204, None,
     [404]),
    ("post", "/webhooks", "Register a webhook endpoint", h.WebhookCreateSchema, None, 201, h.WebhookSchema,
     [400, 413, 415, 422]),
    ("get", "/webhooks", "List webhook endpoints", None, s.PageSchema, 200, h.PageOfWebhooksSchema, [422]),
    ("get", "/webhooks/{webhook_id}", "Get a webhook endpoint", None, None, 200, h.WebhookSchema, [404]),
    ("patch", "/webhooks/{webhook_id}", "Update a webhook endpoint", h.WebhookPatchSchema, None, 200,
     h.WebhookSchema, [400, 404, 413, 415, 422]),
    ("delete", "/webhooks/{webhook_id}", "Delete a webhook endpoint", None, None, 204, None, [404]),
    ("post", "/webhooks/{webhook_id}/rotate-secret", "Rotate the signing secret (both sign for a grace period)",
     None, None, 200, h.WebhookSchema, [404]),
    ("get", "/webhooks/{webhook_id}/deliveries", "The endpoint's delivery log, with every attempt", None,
     s.PageSchema, 200, h.PageOfDeliveriesSchema, [404, 422]),
    ("post", "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", "Attempt a delivery again now",
     None, None, 202, h.DeliverySchema, [404]),
    ("post", "/calls/{ref}/reanalyze", "Analyse a finished call again (the earlier run stays readable)",
     h.ReanalyzeSchema, None, 202, h.ReanalyzeAcceptedSchema, [400, 404, 409, 413, 415, 422]),
    ("get", "/calls/{ref}/runs", "A call's earlier analysis runs", None, None, 200, h.EarlierRunsSchema, [404]),
    ("post", "/reanalysis-jobs", "Re-analyse every finished call of a filter, at a limited rate",
     h.ReanalysisJobCreateSchema, None, 202, h.ReanalysisJobSchema, [400, 413, 415, 422]),
    ("get", "/reanalysis-jobs/{job_id}", "A bulk re-analysis job's progress", None, None, 200,
     h.ReanalysisJobSchema, [404]),
]
# Called by the platforms, not with a bearer token: the platform's signature is the credential.
_EVENTS_OPERATION = {
    "summary": "Receive a platform's event (Vapi end-of-call-report, Retell call_ended/call_analyzed, "
               "ElevenLabs post_call_transcription/post_call_audio)",
    "description": "Authenticated by the platform's signature, checked on the raw body before it is parsed "
                   "(docs/integrations.md). Idempotent on the platform's call id.",
    "security": [],
    "parameters": [{"name": "integration_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
}
_PATH_PARAMS = {
    "ref": {"name": "ref", "in": "path", "required": True, "schema": {"type": "string"},
            "description": "Internal id, or the call_identifier (all digits: tried as an id first)."},
    "agent_id": {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "metric_id": {"name": "metric_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "integration_id": {"name": "integration_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "webhook_id": {"name": "webhook_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "delivery_id": {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    "job_id": {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}},
}


def build_spec() -> dict:
    spec = APISpec(title="callscope", version="1.0.0", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   info={"description": "Submit voice-AI calls (recording, transcript or both) and read "
                                        "their analysis. Compatible with the 'Add Calls' API."},
                   servers=[{"url": PREFIX}])
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"})
    spec.components.schema("Error", schema=r.ErrorBodySchema)
    for status, text in _ERRORS.items():
        spec.components.response(f"E{status}", {"description": text, "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
    paths: dict[str, dict] = {}
    for method, path, summary, body, query, status, response, errors in OPERATIONS:
        operation: dict = {"summary": summary, "security": [{"bearer": []}], "responses": {}}
        params = [_PATH_PARAMS[name] for name in _PATH_PARAMS if "{" + name + "}" in path]
        if query is not None:
            params.append({"in": "query", "schema": query})
        if params:
            operation["parameters"] = params
        if body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        operation["responses"][str(status)] = (
            {"description": "No content."} if response is None else
            {"description": "Success.", "content": {"application/json": {"schema": response}}})
        for code in sorted(set(errors + _AUTH)):
            operation["responses"][str(code)] = {"$ref": f"#/components/responses/E{code}"}
        paths.setdefault(path, {})[method] = operation
    spec.components.schema("EventAnswer", schema=h.EventAnswerSchema)
    paths["/integrations/{integration_id}/events"] = {"post": {**_EVENTS_OPERATION, "responses": {
        "200": {"description": "Stored (or ignored).",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventAnswer"}}}},
        **{str(code): {"$ref": f"#/components/responses/E{code}"} for code in (400, 401, 404, 413, 422, 503)}}}}
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    spec.path(path="/openapi.json", operations={"get": {"summary": "This document", "responses": {
        "200": {"description": "The OpenAPI description."}}}})
    document = spec.to_dict()
    # what marshmallow's field list cannot say: a call needs a recording, a transcript, or both
    document["components"]["schemas"]["CallCreate"]["anyOf"] = [
        {"required": ["recording_url"]}, {"required": ["transcript"]}]
    return document


# ReDoc (an ES module) from app/static/redoc: a pinned copy of the npm package's standalone
# bundle (deploy/vendor_redoc.sh; version, licence and hash in its VERSION file), so the page
# works offline and does not change under us. It reads the <redoc spec-url> element itself: no
# inline script.
_DOCS = """<!doctype html><html><head><title>callscope API</title><meta charset="utf-8"></head>
<body><redoc spec-url="{prefix}/openapi.json"></redoc>
<script type="module" src="{prefix}/docs/redoc.standalone.js"></script></body></html>"""
_REDOC = resources.files("app") / "static" / "redoc" / "redoc.standalone.js"
# Only this origin's scripts, spec and images; ReDoc injects its styles at run time (CSS-in-JS),
# hence inline styles. Nothing may frame the page, post a form or set a base URL.
DOCS_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_SPEC: dict | None = None


@bp.get("/openapi.json")
def openapi_json():
    global _SPEC
    if _SPEC is None:
        _SPEC = build_spec()
    return _SPEC


@bp.get("/docs")
def docs():
    """Interactive documentation (ReDoc, served by this app, run by the reader's browser)."""
    return _DOCS.format(prefix=PREFIX), 200, {"Content-Type": "text/html; charset=utf-8",
                                              "Content-Security-Policy": DOCS_CSP}


@bp.get("/docs/redoc.standalone.js")
def redoc_bundle():
    """The pinned ReDoc bundle; cached for a day (a new version ships with a new release)."""
    return _REDOC.read_bytes(), 200, {"Content-Type": "text/javascript; charset=utf-8",
                                      "Cache-Control": "public, max-age=86400",
                                      "Content-Security-Policy": DOCS_CSP}


if __name__ == "__main__":  # python -m app.api.openapi > docs/openapi.json
    import json

    print(json.dumps(build_spec(), indent=2, sort_keys=True))
