"""Marshmallow schemas of integrations (platform events in) and webhooks (our events out),
requests and responses (docs/integrations.md, docs/webhooks.md)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.responses import _Page
from app.api.schemas import StrictBoolean, StrictInteger, StrictSchema, fetchable_url
from app.catalogue import STANDARD_KEYS
from app.service.reanalysis import METRIC_VERSIONS
from app.urls import MAX_URL_LENGTH

PLATFORMS = ("vapi", "retell", "elevenlabs")
WEBHOOK_EVENTS = ("call.computed", "call.failed")
_SECRET = validate.Length(min=8, max=512)


class IntegrationPatchSchema(StrictSchema):
    name = fields.String(validate=validate.Length(min=1, max=255))
    signing_secret = fields.String(validate=_SECRET, metadata={
        "description": "The secret the platform signs its events with (for Retell: the API key that signs "
                       "webhooks). Write-only: answers show `signing_secret_hint`. Sending a new one rotates it."})
    api_key = fields.String(validate=_SECRET, allow_none=True, metadata={
        "description": "Platform API key used to fetch private recordings (Vapi). Write-only; null removes it."})
    agent_map = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=255)),
                            values=StrictInteger(validate=validate.Range(min=1), allow_none=True),
                            validate=validate.Length(max=1000), metadata={
        "description": "Platform agent id → callscope agent id. On PATCH it merges; null unmaps."})
    default_agent_id = StrictInteger(validate=validate.Range(min=1), allow_none=True, metadata={
        "description": "Agent for calls whose platform agent is not mapped (and not auto-created)."})
    auto_create_agents = StrictBoolean(metadata={
        "description": "Create (and map) an agent the first time an unmapped platform agent is seen."})
    fetch_recordings = StrictBoolean(metadata={"description": "Fetch and analyse the call's recording."})


class IntegrationCreateSchema(IntegrationPatchSchema):
    platform = fields.String(required=True, validate=validate.OneOf(PLATFORMS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=255))
    signing_secret = fields.String(required=True, validate=_SECRET)
    agent_map = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=255)),
                            values=StrictInteger(validate=validate.Range(min=1)),
                            validate=validate.Length(max=1000), load_default=dict)
    auto_create_agents = StrictBoolean(load_default=False)
    fetch_recordings = StrictBoolean(load_default=True)

    @validates_schema
    def _agents_can_be_found(self, data, **kwargs):
        if not data.get("agent_map") and data.get("default_agent_id") is None and not data.get("auto_create_agents"):
            raise ValidationError("Give agent_map, default_agent_id or auto_create_agents: true, "
                                  "or no event can be given an agent.", "agent_map")


class IntegrationSchema(Schema):
    id = fields.Integer()
    client_id = fields.Integer(attribute="workspace_id")
    platform = fields.String()
    name = fields.String()
    signing_secret_hint = fields.String()
    has_api_key = fields.Boolean()
    api_key_hint = fields.String(allow_none=True)
    agent_map = fields.Dict(keys=fields.String(), values=fields.Integer())
    default_agent_id = fields.Integer(allow_none=True)
    auto_create_agents = fields.Boolean()
    fetch_recordings = fields.Boolean()
    events_url = fields.String(metadata={"description": "Paste this into the platform's dashboard."})
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")


class PageOfIntegrationsSchema(_Page):
    items = fields.List(fields.Nested(IntegrationSchema))


class EventAnswerSchema(Schema):
    """What the inbound endpoint answers a platform (200)."""

    status = fields.String(metadata={"description": "`accepted` (a new call), `updated` (an existing call "
                                                   "got what it lacked), `duplicate`, or `ignored` (an event "
                                                   "type that carries no finished call)."})
    call_id = fields.Integer(allow_none=True)
    call_identifier = fields.String(allow_none=True)


class WebhookPatchSchema(StrictSchema):
    # the downloader's URL rule (app/urls.py), so a target it could not post to is a 422 here
    url = fields.Url(schemes={"http", "https"}, require_tld=False,
                     validate=[validate.Length(max=MAX_URL_LENGTH), fetchable_url])
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)), validate=validate.Length(min=1))
    enabled = StrictBoolean(metadata={"description": "Re-enabling clears `disabled_reason`."})
    description = fields.String(validate=validate.Length(max=1000), allow_none=True)


class WebhookCreateSchema(WebhookPatchSchema):
    url = fields.Url(schemes={"http", "https"}, require_tld=False,
                     validate=[validate.Length(max=MAX_URL_LENGTH), fetchable_url], required=True)
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)), validate=validate.Length(min=1),
                         load_default=lambda: list(WEBHOOK_EVENTS))
    enabled = StrictBoolean(load_default=True)


class WebhookSchema(Schema):
    id = fields.Integer()
    client_id = fields.Integer(attribute="workspace_id")
    url = fields.String()
    events = fields.List(fields.String())
    enabled = fields.Boolean()
    description = fields.String(allow_none=True)
    secret = fields.String(metadata={"description": "`whsec_…`; only in the answer that created or rotated it."})
    secret_hint = fields.String()
    previous_secret_expires_at = fields.DateTime(format="iso", allow_none=True)
    disabled_reason = fields.String(allow_none=True)
    disabled_at = fields.DateTime(format="iso", allow_none=True)
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")


class PageOfWebhooksSchema(_Page):
    items = fields.List(fields.Nested(WebhookSchema))


class AttemptSchema(Schema):
    attempted_at = fields.String(metadata={"format": "date-time"})
    status_code = fields.Integer(allow_none=True)
    error = fields.String(allow_none=True)
    duration_ms = fields.Integer()
    manual = fields.Boolean()


class DeliverySchema(Schema):
    id = fields.Integer()
    message_id = fields.String(metadata={"description": "The `webhook-id` header: the same on every attempt."})
    event_type = fields.String()
    call_id = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "pending, delivered or failed (retries exhausted)."})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(format="iso", allow_none=True)
    last_error = fields.String(allow_none=True)
    delivered_at = fields.DateTime(format="iso", allow_none=True)
    created_at = fields.DateTime(format="iso")
    attempt_log = fields.List(fields.Nested(AttemptSchema))


class PageOfDeliveriesSchema(_Page):
    items = fields.List(fields.Nested(DeliverySchema))


class ReanalyzeSchema(StrictSchema):
    """Which results to compute again; neither list: all of them."""

    standard_metrics = fields.List(fields.String(validate=validate.OneOf(STANDARD_KEYS)),
                                   validate=validate.Length(max=len(STANDARD_KEYS)))
    metric_ids = fields.List(StrictInteger(validate=validate.Range(min=1)), validate=validate.Length(max=200))
    metric_versions = fields.String(load_default="current", validate=validate.OneOf(METRIC_VERSIONS),
                                    metadata={"description": "Custom metrics: each one's `current` version, or the "
                                                             "`original` one the call was analysed with."})


class ReanalysisFilterSchema(StrictSchema):
    agent_id = StrictInteger()
    analysis_status = fields.String(validate=validate.OneOf(("computed", "failed")))
    from_ = fields.AwareDateTime(format="iso", data_key="from")
    to = fields.AwareDateTime(format="iso")


class ReanalysisJobCreateSchema(ReanalyzeSchema):
    filter = fields.Nested(ReanalysisFilterSchema, load_default=dict)


class ReanalyzeAcceptedSchema(Schema):
    id = fields.Integer()
    analysis_status = fields.String()
    analysis_run = fields.Integer(metadata={"description": "The run now being computed (the earlier ones: GET …/runs)."})


class EarlierRunSchema(Schema):
    run = fields.Integer()
    analysis_status = fields.String()
    call_success = fields.Boolean(allow_none=True)
    failure_code = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)
    results = fields.List(fields.Dict())
    custom_results = fields.List(fields.Dict())
    finished_at = fields.DateTime(format="iso")
    replaced_at = fields.DateTime(format="iso")


class EarlierRunsSchema(Schema):
    items = fields.List(fields.Nested(EarlierRunSchema))


class ReanalysisJobSchema(Schema):
    id = fields.Integer()
    client_id = fields.Integer(attribute="workspace_id")
    filters = fields.Dict()
    options = fields.Dict()
    status = fields.String(metadata={"description": "running or done."})
    total = fields.Integer(metadata={"description": "Finished calls that matched when the job was made."})
    done = fields.Integer(metadata={"description": "Calls sent back to analysis so far."})
    skipped = fields.Integer(metadata={"description": "Calls passed over because they were being analysed."})
    created_at = fields.DateTime(format="iso")
    updated_at = fields.DateTime(format="iso")
    finished_at = fields.DateTime(format="iso", allow_none=True)
